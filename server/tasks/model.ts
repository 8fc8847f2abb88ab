// The shapes of task requests, for the agent API and the people's routes.
import { t } from "elysia";

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
