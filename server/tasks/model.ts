// The shapes of task requests and answers, for the agent API, the people's routes and the webhook trigger.
import { t } from "elysia";
import { Int, OrNull, Time } from "../lib/schemas.ts";

export const TASK_LIMITS = {
  name: 500,
  prompt: 20_000,
  schedule: 200,
  timezone: 100,
  summaryBytes: 64 * 1024, // a run's markdown summary (more → 413)
  contextBytes: 64 * 1024, // one scratchpad block (more → 413)
};

const Name = t.String({ minLength: 1, maxLength: TASK_LIMITS.name, error: `name: a non-empty string of at most ${TASK_LIMITS.name} characters` });
const Prompt = t.String({ minLength: 1, maxLength: TASK_LIMITS.prompt, error: `prompt: a non-empty string of at most ${TASK_LIMITS.prompt} characters` });
const Schedule = t.String({
  minLength: 1,
  maxLength: TASK_LIMITS.schedule,
  error: 'schedule: a cron expression (5 fields, or 6 with seconds), "once" or "event"',
});
const Timezone = t.Nullable(t.String({ maxLength: TASK_LIMITS.timezone, error: "timezone: an IANA time zone name such as Europe/Berlin" }));
const RunAt = t.Nullable(t.String({ maxLength: 64, error: "run_at: an ISO 8601 time such as 2026-11-23T09:00:00Z" }));

export const CreateTaskBody = t.Object({
  name: Name,
  prompt: Prompt,
  schedule: Schedule,
  timezone: t.Optional(Timezone),
  run_at: t.Optional(RunAt),
  enabled: t.Optional(t.Boolean({ error: "enabled: true or false" })),
});

export const UpdateTaskBody = t.Object({
  name: t.Optional(Name),
  prompt: t.Optional(Prompt),
  schedule: t.Optional(Schedule),
  timezone: t.Optional(Timezone),
  run_at: t.Optional(RunAt),
  enabled: t.Optional(t.Boolean({ error: "enabled: true or false" })),
});

export const CompleteRunBody = t.Object({
  status: t.Union([t.Literal("completed"), t.Literal("failed")], { error: "status: 'completed' or 'failed'" }),
  // The 64 KiB limit is checked in the service (413, as API.md says), not here (400).
  summary: t.Optional(t.Nullable(t.String({ error: "summary: a markdown string" }))),
});

export const ContextBody = t.Object({
  text: t.String({ minLength: 1, error: "text: a non-empty string" }),
  run_id: t.Optional(t.Nullable(t.String({ maxLength: 100 }))), // optional; the path decides
});

export const TaskListQuery = t.Object({ agent_id: t.Optional(t.String({ maxLength: 100 })) });

export const PreviewQuery = t.Object({
  schedule: t.String({ minLength: 1, maxLength: TASK_LIMITS.schedule, error: "schedule: required" }),
  timezone: t.Optional(t.String({ maxLength: TASK_LIMITS.timezone })),
  run_at: t.Optional(t.String({ maxLength: 64 })),
});

export type CreateTaskInput = typeof CreateTaskBody.static;
export type UpdateTaskInput = typeof UpdateTaskBody.static;

// ---- answers ----

const TriggerType = t.Union([t.Literal("scheduled"), t.Literal("once"), t.Literal("event")]);
const RunStatus = t.Union([t.Literal("due"), t.Literal("running"), t.Literal("completed"), t.Literal("failed")]);

/** A task as the API sends it (also in the inbox's live frames). */
export const TaskView = t.Object({
  id: t.String(),
  agent_id: t.String(),
  name: t.String(),
  prompt: t.String(),
  schedule: t.String({ description: 'A cron expression, "once" or "event"' }),
  schedule_description: t.String({ description: "The schedule in words" }),
  trigger_type: TriggerType,
  timezone: t.String(),
  enabled: t.Boolean(),
  next_run_at: OrNull(Time),
  last_run_status: OrNull(t.String()),
  run_at: OrNull(Time),
  trigger_id: OrNull(t.String({ description: "Event tasks: the key of its webhook" })),
  trigger_url: OrNull(t.String({ description: "Event tasks: POST here to run it" })),
  created_at: Time,
  updated_at: Time,
});

export const RunView = t.Object({
  id: t.String(),
  task_id: t.String(),
  agent_id: t.String(),
  status: RunStatus,
  trigger: t.Union([t.Literal("schedule"), t.Literal("manual"), t.Literal("event"), t.Literal("agent")]),
  summary: OrNull(t.String()),
  created_at: Time,
  started_at: OrNull(Time),
  finished_at: OrNull(Time),
});

/** A due run with its task's fields (GET /api/agent/tasks/due). */
export const DueRun = t.Object({
  id: t.String({ description: "The task's id" }),
  name: t.String(),
  prompt: t.String(),
  schedule: t.String(),
  trigger_type: TriggerType,
  enabled: t.Boolean(),
  run_id: t.String(),
  due_at: Time,
});

/** A webhook call whose run is not started or completed yet. */
export const PendingTrigger = t.Object({
  id: OrNull(t.String({ description: "The task_trigger event's id" })),
  task_id: t.String(),
  task_name: t.String(),
  task_prompt: t.String(),
  payload: t.Unknown({ description: 'The webhook call\'s JSON as it came, or {"content_type","body"}' }),
  run_id: t.String(),
  received_at: Time,
});

export const RunId = t.Object({ run_id: t.String() });
export const RunFinished = t.Object({ status: t.Union([t.Literal("completed"), t.Literal("failed")]), run_id: t.String() });
export const ContextAdded = t.Object({ status: t.Literal("ok"), block_id: Int({ minimum: 1, description: "1, 2, … per run" }) });
export const RunContext = t.Object({
  run_id: t.String(),
  blocks: t.Array(t.Object({ id: Int({ minimum: 1 }), text: t.String(), created_at: Time })),
});

export const SchedulePreview = t.Object({
  schedule: t.String(),
  trigger_type: TriggerType,
  timezone: t.String(),
  description: t.String({ description: "The schedule in words" }),
  next_runs: t.Array(Time, { description: "The next five runs (one for once, none for event)" }),
});

export const TriggerAccepted = t.Object({ status: t.Literal("accepted"), run_id: t.String() });
