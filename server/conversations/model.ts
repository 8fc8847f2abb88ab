// The shapes of the people's conversation routes.
import { t } from "elysia";

export const SendMessageBody = t.Object({
  text: t.String({ minLength: 1, maxLength: 100_000, error: "text: a non-empty string" }),
  conversation_id: t.Optional(t.Nullable(t.String({ maxLength: 100 }))),
});
