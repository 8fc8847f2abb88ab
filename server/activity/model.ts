// The shapes of the activity routes, and of an activity entry as the API sends it.
import { t } from "elysia";
import { PagingQuery } from "../lib/paging.ts";
import { OrNull, Time } from "../lib/schemas.ts";

export const ActivityQuery = t.Object({ agent_id: t.Optional(t.String({ maxLength: 100 })), ...PagingQuery });

export const ActivityView = t.Object({
  id: t.String(),
  agent_id: t.String(),
  type: t.Union([t.Literal("decision_created"), t.Literal("decision_resolved"), t.Literal("agent_message"), t.Literal("agent_action"), t.Literal("system")]),
  title: t.String(),
  text: OrNull(t.String()),
  task_run_id: OrNull(t.String()),
  created_at: Time,
});
