// The shapes of the routes about requests ("decisions"), for people and agents.
import { t } from "elysia";
import { PagingQuery } from "../lib/paging.ts";
import { OrNull, Time } from "../lib/schemas.ts";

export const DecisionListQuery = t.Object({
  status: t.Optional(t.Union([t.Literal("pending"), t.Literal("resolved")], { error: "status: 'pending' or 'resolved'" })),
  agent_id: t.Optional(t.String({ maxLength: 100 })),
  ...PagingQuery,
});

const ResolveStatus = t.Union([t.Literal("approved"), t.Literal("rejected"), t.Literal("responded"), t.Literal("dismissed")], {
  error: "status: must be one of approved, rejected, responded, dismissed",
});

export const RespondBody = t.Object({
  status: ResolveStatus,
  note: t.Optional(t.Nullable(t.String({ maxLength: 20_000 }))),
  always_allow: t.Optional(t.Boolean()),
  always_allow_pattern: t.Optional(t.Nullable(t.String({ maxLength: 500 }))),
});

export const SelfResolveBody = t.Object({
  decision_id: t.String({ minLength: 1, maxLength: 100 }),
  note: t.Optional(t.Nullable(t.String({ maxLength: 20_000 }))),
});

export const LongPollQuery = t.Object({
  wait: t.Optional(t.Numeric({ minimum: 0, multipleOf: 1, error: "wait: a whole number of seconds" })),
});

const Kind = t.Union([t.Literal("approval"), t.Literal("choice"), t.Literal("question"), t.Literal("permission")]);
const Status = t.Union([
  t.Literal("pending"),
  t.Literal("approved"),
  t.Literal("rejected"),
  t.Literal("responded"),
  t.Literal("dismissed"),
  t.Literal("expired"),
  t.Literal("cancelled"),
]);
const AlwaysAllowOption = t.Object({ pattern: t.String(), label: t.String() });

/** A request as people see it (also in the inbox's live frames). */
export const DecisionView = t.Object({
  id: t.String(),
  agent_id: t.String(),
  conversation_id: OrNull(t.String()),
  task_run_id: OrNull(t.String()),
  kind: Kind,
  title: t.String(),
  description: t.String(),
  options: OrNull(t.Array(t.String())),
  allows_always: t.Boolean(),
  always_allow_label: OrNull(t.String()),
  always_allow_options: OrNull(t.Array(AlwaysAllowOption)),
  task_proposal: OrNull(
    t.Object(
      {
        task_name: t.String(),
        task_prompt: t.String(),
        task_schedule: t.String(),
        timezone: t.Optional(t.String()),
        schedule_description: t.String({ description: "The schedule in words" }),
      },
      { description: "A task_proposal: approving it creates this task" },
    ),
  ),
  status: Status,
  note: OrNull(t.String()),
  always_allow: t.Boolean(),
  always_allow_pattern: OrNull(t.String()),
  resolved_by: OrNull(t.String({ description: 'A username, or "agent" when the agent resolved it' })),
  task_id: OrNull(t.String({ description: "The task an approved proposal created" })),
  created_at: Time,
  expires_at: OrNull(Time),
  resolved_at: OrNull(Time),
});

/** A request as its agent sees it: the decision_resolved fields plus kind, options and times. */
export const AgentDecisionView = t.Object({
  decision_id: t.String(),
  kind: Kind,
  status: Status,
  note: OrNull(t.String()),
  title: t.String(),
  description: t.String(),
  options: OrNull(t.Array(t.String())),
  conversation_id: OrNull(t.String()),
  task_run_id: OrNull(t.String()),
  always_allow: t.Boolean(),
  always_allow_pattern: OrNull(t.String()),
  task_id: t.Optional(OrNull(t.String({ description: "Only for a task proposal: the task its approval created" }))),
  created_at: Time,
  expires_at: OrNull(Time),
  resolved_at: OrNull(Time),
});

export const SelfResolved = t.Object({ status: t.Literal("resolved"), decision_id: t.String() });
export const Cancelled = t.Object({ status: t.Literal("cancelled"), decision_id: t.String() });
