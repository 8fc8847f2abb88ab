import { t } from "elysia";
import { Int, OrNull, Time } from "../lib/schemas.ts";

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

/** An agent as people see it. */
export const AgentView = t.Object({
  id: t.String(),
  name: t.String(),
  avatar: OrNull(t.String()),
  type: t.Union([t.Literal("interactive"), t.Literal("approval_only")]),
  webhook_url: OrNull(t.String()),
  /** Only on a single agent (GET/PATCH /api/agents/:id, the creation answer), never in lists. */
  webhook_secret: t.Optional(t.String({ description: "Signs outbound webhooks (whsec_…); only on a single agent, never in lists" })),
  online: t.Boolean(),
  last_seen_at: OrNull(Time),
  created_at: Time,
  updated_at: Time,
});

/** An agent in the inbox's list: with its pending requests and unread messages. */
export const AgentListItem = t.Composite([
  AgentView,
  t.Object({ pending_requests: Int({ minimum: 0 }), unread_messages: Int({ minimum: 0 }) }),
]);

/** The creation answer: the only time the secret is shown. */
export const CreatedAgent = t.Composite([AgentView, t.Object({ secret: t.String({ description: "nod_… (shown only now)" }) })]);

export const NewSecret = t.Object({ secret: t.String({ description: "The new nod_… secret; the old one stops working and the agent's sockets close" }) });
