// The Nod agent API for tasks: /api/agent/tasks, /api/agent/tasks/due,
// /api/agent/tasks/triggers/pending, /api/agent/tasks/:task_id/run/start and
// /api/agent/tasks/runs/:run_id (…/complete, …/context).
// X-Nod-Agent-Id + X-Nod-Secret; another agent's task or run → 404.
import { t } from "elysia";
import type { Ctx } from "../context.ts";
import { forAgents } from "../agents/guard.ts";
import { doc, errors } from "../lib/schemas.ts";
import { CompleteRunBody, ContextAdded, ContextBody, CreateTaskBody, DueRun, PendingTrigger, RunContext, RunFinished, RunId, RunView, TaskView } from "./model.ts";
import * as tasks from "./service.ts";
import { dueRuns, pendingTriggers } from "./open-runs.ts";
import { completeRun, startRun } from "./run-progress.ts";
import { addContext, getContext } from "./run-context.ts";

export function agentTaskRoutes(ctx: Ctx) {
  return forAgents(ctx)
    .get("/api/agent/tasks", ({ agent }) => tasks.listTasks(ctx, agent.id), {
      response: { 200: t.Array(TaskView), ...errors(401) },
      ...doc("This agent's tasks"),
    })
    .post("/api/agent/tasks", async ({ agent, body }) => tasks.publicTask(ctx, await tasks.createTask(ctx, agent, body)), {
      parse: "json", // whatever the Content-Type says (the Nod documents' requests show none)
      body: CreateTaskBody,
      response: { 200: TaskView, ...errors(400, 401, 413) },
      ...doc("Create a task", 'schedule: a cron expression (5 fields, or 6 with seconds), "once" (with optional run_at) or "event". timezone (IANA, default UTC), run_at and enabled are nod\'s additions.'),
    })
    .get("/api/agent/tasks/due", ({ agent }) => dueRuns(ctx, agent), {
      response: { 200: t.Array(DueRun), ...errors(401) },
      ...doc("Runs that are due and not yet started", "Each with the task's fields plus run_id and due_at (nod's additions). Webhook runs are listed by /triggers/pending instead."),
    })
    .get("/api/agent/tasks/triggers/pending", ({ agent }) => pendingTriggers(ctx, agent), {
      response: { 200: t.Array(PendingTrigger), ...errors(401) },
      ...doc("Webhook triggers whose run is not started or completed yet"),
    })
    .post("/api/agent/tasks/:task_id/run/start", ({ agent, params }) => startRun(ctx, agent, params.task_id), {
      response: { 200: RunId, ...errors(401, 404) },
      ...doc("Start a run", "Takes the task's oldest due run if there is one, else creates a running run."),
    })
    .get("/api/agent/tasks/runs/:run_id", async ({ agent, params }) => tasks.publicRun(await tasks.getAgentRun(ctx.db, agent.id, params.run_id)), {
      response: { 200: RunView, ...errors(401, 404) },
      ...doc("A run, with its summary"),
    })
    .post("/api/agent/tasks/runs/:run_id/complete", ({ agent, params, body }) => completeRun(ctx, agent, params.run_id, body.status, body.summary), {
      parse: "json", // whatever the Content-Type says (the Nod documents' requests show none)
      body: CompleteRunBody,
      response: { 200: RunFinished, ...errors(400, 401, 404, 409, 413) },
      ...doc("Complete or fail a run", "summary: markdown up to 64 KiB (413 beyond). For interactive agents the summary becomes a task message in the chat; the run's context blocks are deleted. 409 when already finished."),
    })
    .post("/api/agent/tasks/runs/:run_id/context", ({ agent, params, body }) => addContext(ctx, agent, params.run_id, body.text), {
      parse: "json", // whatever the Content-Type says (the Nod documents' requests show none)
      body: ContextBody,
      response: { 200: ContextAdded, ...errors(400, 401, 404, 409, 413) },
      ...doc("Append a block to the run's scratchpad", "block_id counts 1, 2, … per run; 409 after the run finished."),
    })
    .get("/api/agent/tasks/runs/:run_id/context", ({ agent, params }) => getContext(ctx, agent, params.run_id), {
      response: { 200: RunContext, ...errors(401, 404) },
      ...doc("The run's scratchpad blocks, oldest first"),
    });
}
