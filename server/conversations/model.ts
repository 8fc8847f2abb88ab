// The shapes of the people's conversation routes, and of conversations and
// messages as the API sends them (also in the inbox's live frames).
import { t } from "elysia";
import { OrNull, Time } from "../lib/schemas.ts";

export const SendMessageBody = t.Object({
  text: t.String({ minLength: 1, maxLength: 100_000, error: "text: a non-empty string" }),
  conversation_id: t.Optional(t.Nullable(t.String({ maxLength: 100 }))),
});

export const ConversationView = t.Object({
  id: t.String(),
  agent_id: t.String(),
  title: t.String(),
  is_default: t.Boolean({ description: "The agent's default conversation (messages without conversation_id go here)" }),
  created_at: Time,
  updated_at: Time,
});

export const MessageView = t.Object({
  id: t.String(),
  conversation_id: t.String(),
  agent_id: t.String(),
  role: t.Union([t.Literal("agent"), t.Literal("user"), t.Literal("task")], { description: "user: a person wrote it; task: a task run's result" }),
  text: t.String(),
  image_url: OrNull(t.String()),
  report_title: OrNull(t.String()),
  report_description: OrNull(t.String()),
  task_run_id: OrNull(t.String()),
  sender_name: OrNull(t.String({ description: "The person's username, for role user" })),
  created_at: Time,
});

export const SentMessage = t.Object({ message_id: t.String(), conversation_id: t.String() });
