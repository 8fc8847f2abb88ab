import { t } from "elysia";

export const AgentType = t.Union([t.Literal("interactive"), t.Literal("approval_only")], {
  error: "type: must be 'interactive' or 'approval_only'",
});

export const CreateAgentBody = t.Object({
  name: t.String({ minLength: 1, maxLength: 100 }),
  avatar: t.Optional(t.Nullable(t.String({ maxLength: 200 }))),
  webhook_url: t.Optional(t.Nullable(t.String({ maxLength: 2000 }))),
  type: t.Optional(AgentType),
});

export const UpdateAgentBody = t.Partial(CreateAgentBody);
