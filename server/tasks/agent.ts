// The Nod agent API for tasks: /api/agent/tasks, /api/agent/tasks/due,
// /api/agent/tasks/triggers/pending, /api/agent/tasks/:task_id/run/start and
// /api/agent/tasks/runs/:run_id (…/complete, …/context).
import { Elysia } from "elysia";
import type { Ctx } from "../context.ts";
import { agentGuard } from "../agents/guard.ts";
import { doc } from "../lib/schemas.ts";
import { CompleteRunBody, ContextBody, CreateTaskBody } from "./model.ts";
import * as tasks from "./service.ts";
import * as runs from "./runs.ts";

/** The Nod agent API for tasks: X-Nod-Agent-Id + X-Nod-Secret; another agent's task or run → 404. */
export function agentTaskRoutes(ctx: Ctx) {
  return new Elysia()
    .use(agentGuard(ctx))
    .get("/api/agent/tasks", ({ agent }) => tasks.listTasks(ctx, agent.id), doc("This agent's tasks"))
    .post("/api/agent/tasks", ({ agent, body }) => tasks.publicTask(ctx, tasks.createTask(ctx, agent, body)), {
      parse: "json", // whatever the Content-Type says (the Nod documents' requests show none)
      body: CreateTaskBody,
      ...doc("Create a task", 'schedule: a cron expression (5 fields, or 6 with seconds), "once" (with optional run_at) or "event". timezone (IANA, default UTC), run_at and enabled are nod\'s additions.'),
    })
    .get("/api/agent/tasks/due", ({ agent }) => runs.dueRuns(ctx, agent), doc("Runs that are due and not yet started", "Each with the task's fields plus run_id and due_at (nod's additions). Webhook runs are listed by /triggers/pending instead."))
    .get("/api/agent/tasks/triggers/pending", ({ agent }) => runs.pendingTriggers(ctx, agent), doc("Webhook triggers whose run is not started or completed yet"))
    .post("/api/agent/tasks/:task_id/run/start", ({ agent, params }) => runs.startRun(ctx, agent, params.task_id), doc("Start a run", "Takes the task's oldest due run if there is one, else creates a running run. Answers {run_id}."))
    .get("/api/agent/tasks/runs/:run_id", ({ agent, params }) => tasks.publicRun(tasks.getAgentRun(ctx.db, agent.id, params.run_id)), doc("A run, with its summary"))
    .post("/api/agent/tasks/runs/:run_id/complete", ({ agent, params, body }) => runs.completeRun(ctx, agent, params.run_id, body.status, body.summary), {
      parse: "json", // whatever the Content-Type says (the Nod documents' requests show none)
      body: CompleteRunBody,
      ...doc("Complete or fail a run", "summary: markdown up to 64 KiB (413 beyond). For interactive agents the summary becomes a task message in the chat; the run's context blocks are deleted. 409 when already finished."),
    })
    .post("/api/agent/tasks/runs/:run_id/context", ({ agent, params, body }) => runs.addContext(ctx, agent, params.run_id, body.text), {
      parse: "json", // whatever the Content-Type says (the Nod documents' requests show none)
      body: ContextBody,
      ...doc("Append a block to the run's scratchpad", "block_id counts 1, 2, … per run; 409 after the run finished."),
    })
    .get("/api/agent/tasks/runs/:run_id/context", ({ agent, params }) => runs.getContext(ctx, agent, params.run_id), doc("The run's scratchpad blocks, oldest first"));
}

