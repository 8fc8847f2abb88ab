// Task routes: the agent API (/api/agent/tasks…), the people's routes
// (/api/tasks…, /api/agents/:id/tasks) and the public webhook trigger.
import { Elysia, t } from "elysia";
import type { Ctx } from "../context.ts";
import { agentGuard } from "../agents/guard.ts";
import { personGuard } from "../auth/guard.ts";
import { getAgent } from "../agents/service.ts";
import { MiB } from "../http.ts";
import { tooLarge } from "../lib/errors.ts";
import { PagingQuery, pageLimit } from "../lib/paging.ts";
import { CompleteRunBody, ContextBody, CreateTaskBody, PreviewQuery, UpdateTaskBody } from "./model.ts";
import * as tasks from "./service.ts";
import * as runs from "./runs.ts";

const doc = (summary: string, description?: string) => ({ detail: { summary, ...(description ? { description } : {}) } });

/** The Nod agent API for tasks: X-Nod-Agent-Id + X-Nod-Secret; another agent's task or run → 404. */
export function agentTaskRoutes(ctx: Ctx) {
  return new Elysia({ prefix: "/api/agent/tasks" })
    .use(agentGuard(ctx))
    .get("/", ({ agent }) => tasks.listTasks(ctx, agent.id), doc("This agent's tasks"))
    .post("/", ({ agent, body }) => tasks.publicTask(ctx, tasks.createTask(ctx, agent, body)), {
      parse: "json", // whatever the Content-Type says (the Nod documents' requests show none)
      body: CreateTaskBody,
      ...doc("Create a task", 'schedule: a cron expression (5 fields, or 6 with seconds), "once" (with optional run_at) or "event". timezone (IANA, default UTC), run_at and enabled are nod\'s additions.'),
    })
    .get("/due", ({ agent }) => runs.dueRuns(ctx, agent), doc("Runs that are due and not yet started", "Each with the task's fields plus run_id and due_at (nod's additions). Webhook runs are listed by /triggers/pending instead."))
    .get("/triggers/pending", ({ agent }) => runs.pendingTriggers(ctx, agent), doc("Webhook triggers whose run is not started or completed yet"))
    .post("/:task_id/run/start", ({ agent, params }) => runs.startRun(ctx, agent, params.task_id), doc("Start a run", "Takes the task's oldest due run if there is one, else creates a running run. Answers {run_id}."))
    .get("/runs/:run_id", ({ agent, params }) => tasks.publicRun(tasks.getAgentRun(ctx.db, agent.id, params.run_id)), doc("A run, with its summary"))
    .post("/runs/:run_id/complete", ({ agent, params, body }) => runs.completeRun(ctx, agent, params.run_id, body.status, body.summary), {
      parse: "json", // whatever the Content-Type says (the Nod documents' requests show none)
      body: CompleteRunBody,
      ...doc("Complete or fail a run", "summary: markdown up to 64 KiB (413 beyond). For interactive agents the summary becomes a task message in the chat; the run's context blocks are deleted. 409 when already finished."),
    })
    .post("/runs/:run_id/context", ({ agent, params, body }) => runs.addContext(ctx, agent, params.run_id, body.text), {
      parse: "json", // whatever the Content-Type says (the Nod documents' requests show none)
      body: ContextBody,
      ...doc("Append a block to the run's scratchpad", "block_id counts 1, 2, … per run; 409 after the run finished."),
    })
    .get("/runs/:run_id/context", ({ agent, params }) => runs.getContext(ctx, agent, params.run_id), doc("The run's scratchpad blocks, oldest first"));
}

/** The people's task routes (API.md "People: tasks") and the editor's schedule preview. */
export function peopleTaskRoutes(ctx: Ctx) {
  return new Elysia({ prefix: "/api" })
    .use(personGuard(ctx))
    .get("/tasks", ({ query }) => tasks.listTasks(ctx, query.agent_id), {
      query: t.Object({ agent_id: t.Optional(t.String({ maxLength: 100 })) }),
      ...doc("Tasks of every agent, or of one (?agent_id=)"),
    })
    .get("/tasks/preview", ({ query }) => tasks.previewSchedule(ctx, query), {
      query: PreviewQuery,
      ...doc("Check a schedule: its description and next five runs", "nod's addition for the task editor. Creates nothing; a bad schedule, timezone or run_at is a 400 naming it."),
    })
    .get("/tasks/runs/:run_id", ({ params }) => tasks.publicRun(tasks.getRun(ctx.db, params.run_id)), doc("A run"))
    .post(
      "/agents/:id/tasks",
      ({ params, body, set }) => {
        const task = tasks.createTask(ctx, getAgent(ctx.db, params.id), body);
        set.status = 201;
        return tasks.publicTask(ctx, task);
      },
      { body: CreateTaskBody, ...doc("Create a task for an agent") },
    )
    .get("/tasks/:id", ({ params }) => tasks.publicTask(ctx, tasks.getTask(ctx.db, params.id)), doc("A task"))
    .patch("/tasks/:id", ({ params, body }) => tasks.publicTask(ctx, tasks.updateTask(ctx, params.id, body)), {
      body: UpdateTaskBody,
      ...doc("Change a task", "Takes effect at once: the next run is recomputed from now."),
    })
    .delete(
      "/tasks/:id",
      ({ params, set }) => {
        tasks.deleteTask(ctx, params.id);
        set.status = 204;
      },
      doc("Delete a task and its runs"),
    )
    .post(
      "/tasks/:id/run",
      ({ params, set }) => {
        const r = runs.runNow(ctx, params.id);
        set.status = 201;
        return r;
      },
      doc("Run a task now", "A due run; the agent receives task_due. Answers {run_id}."),
    )
    .get(
      "/tasks/:id/runs",
      ({ params, query }) => tasks.listRuns(ctx.db, tasks.getTask(ctx.db, params.id).id, { before: query.before, limit: pageLimit(query.limit) }),
      { query: t.Object(PagingQuery), ...doc("A task's runs, newest first") },
    );
}

export const WEBHOOK_MAX_BODY = 1 * MiB;

/** Public: POST /webhook/:trigger_id fires an event task. The 64-hex trigger id is the only key. */
export function webhookTriggerRoutes(ctx: Ctx) {
  return new Elysia().post(
    "/webhook/:trigger_id",
    ({ params, request, body, set }) => {
      // Content-Length above 1 MiB was refused before reading (http.ts); a chunked
      // body has none, so its real size is checked here.
      const raw = new Uint8Array(body as ArrayBuffer);
      if (raw.byteLength > WEBHOOK_MAX_BODY) throw tooLarge(`request body too large (limit ${WEBHOOK_MAX_BODY / MiB} MiB)`);
      const r = runs.receiveTrigger(ctx, params.trigger_id, () => runs.triggerPayload(request.headers.get("content-type"), raw));
      set.status = 202;
      return r;
    },
    {
      parse: "arrayBuffer",
      ...doc(
        "Fire an event task (public; the trigger id is the key)",
        'Any body up to 1 MiB: JSON becomes the payload as is, anything else {"content_type","body"}. 202 {"status":"accepted","run_id"}; 404 unknown trigger; 409 disabled task; 413 too large; 429 more than 60 calls a minute.',
      ),
    },
  );
}
