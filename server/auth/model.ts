// The shapes of the sign-in routes.
import { t } from "elysia";

export const Credentials = t.Object({ username: t.String({ maxLength: 64 }), password: t.String({ maxLength: 1024 }) });
