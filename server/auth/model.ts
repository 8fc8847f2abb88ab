// The shapes of the sign-in routes, and of a person as the API sends it.
import { t } from "elysia";
import { OrNull, Time } from "../lib/schemas.ts";

export const Credentials = t.Object({ username: t.String({ maxLength: 64 }), password: t.String({ maxLength: 1024 }) });

export const UserView = t.Object({ id: t.String(), username: t.String(), created_at: Time });

export const AuthStatus = t.Object({
  setup_required: t.Boolean({ description: "No person has an account yet: POST /api/auth/setup creates the owner" }),
  user: OrNull(UserView),
});

export const SignedIn = t.Object({ user: UserView });
