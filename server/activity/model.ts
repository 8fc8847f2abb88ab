// The shapes of the activity routes, and of an activity entry as the API sends it.
import { t } from "elysia";
import { PagingQuery } from "../lib/paging.ts";
import { OrNull, Time } from "../lib/schemas.ts";

const ActivityType = t.Union(
  [t.Literal("decision_created"), t.Literal("decision_resolved"), t.Literal("agent_message"), t.Literal("agent_action"), t.Literal("system")],
  { error: "type: one of decision_created, decision_resolved, agent_message, agent_action, system" },
);

/** ?type= shows one kind of entry only. */
export const ActivityFilter = { type: t.Optional(ActivityType), ...PagingQuery };
export const ActivityQuery = t.Object({ agent_id: t.Optional(t.String({ maxLength: 100 })), ...ActivityFilter });

export const ActivityView = t.Object({
  id: t.String(),
  agent_id: t.String(),
  type: ActivityType,
  title: t.String(),
  text: OrNull(t.String({ description: "Details; for agent_message the start of the message" })),
  task_run_id: OrNull(t.String()),
  ref_id: OrNull(t.String({ description: "What the entry is about: a request (dec_…), a message (msg_…) or a task run (run_…)" })),
  outcome: OrNull(
    t.String({ description: "For an answered request its status (approved, rejected, responded, dismissed, expired, cancelled); for a finished run completed or failed" }),
  ),
  created_at: Time,
});
