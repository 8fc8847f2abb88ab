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

/** The Nod agent API for tasks: X-Nod-Agent-Id + X-Nod-Secret; another agent's task or run → 404. */
export function agentTaskRoutes(ctx: Ctx) {
  return new Elysia({ prefix: "/api/agent/tasks" })
    .use(agentGuard(ctx))
    .get("/", ({ agent }) => tasks.listTasks(ctx, agent.id))
    .post("/", ({ agent, body }) => tasks.publicTask(ctx, tasks.createTask(ctx, agent, body)), { body: CreateTaskBody })
    .get("/due", ({ agent }) => tasks.dueRuns(ctx, agent))
    .get("/triggers/pending", ({ agent }) => tasks.pendingTriggers(ctx, agent))
    .post("/:task_id/run/start", ({ agent, params }) => tasks.startRun(ctx, agent, params.task_id))
    .get("/runs/:run_id", ({ agent, params }) => tasks.publicRun(tasks.getAgentRun(ctx.db, agent.id, params.run_id)))
    .post("/runs/:run_id/complete", ({ agent, params, body }) => tasks.completeRun(ctx, agent, params.run_id, body.status, body.summary), {
      body: CompleteRunBody,
    })
    .post("/runs/:run_id/context", ({ agent, params, body }) => tasks.addContext(ctx, agent, params.run_id, body.text), { body: ContextBody })
    .get("/runs/:run_id/context", ({ agent, params }) => tasks.getContext(ctx, agent, params.run_id));
}

/** The people's task routes (API.md "People: tasks") and the editor's schedule preview. */
export function peopleTaskRoutes(ctx: Ctx) {
  return new Elysia({ prefix: "/api" })
    .use(personGuard(ctx))
    .get("/tasks", ({ query }) => tasks.listTasks(ctx, query.agent_id), {
      query: t.Object({ agent_id: t.Optional(t.String({ maxLength: 100 })) }),
    })
    .get("/tasks/preview", ({ query }) => tasks.previewSchedule(ctx, query), { query: PreviewQuery })
    .get("/tasks/runs/:run_id", ({ params }) => tasks.publicRun(tasks.getRun(ctx.db, params.run_id)))
    .post(
      "/agents/:id/tasks",
      ({ params, body, set }) => {
        const task = tasks.createTask(ctx, getAgent(ctx.db, params.id), body);
        set.status = 201;
        return tasks.publicTask(ctx, task);
      },
      { body: CreateTaskBody },
    )
    .get("/tasks/:id", ({ params }) => tasks.publicTask(ctx, tasks.getTask(ctx.db, params.id)))
    .patch("/tasks/:id", ({ params, body }) => tasks.publicTask(ctx, tasks.updateTask(ctx, params.id, body)), { body: UpdateTaskBody })
    .delete("/tasks/:id", ({ params, set }) => {
      tasks.deleteTask(ctx, params.id);
      set.status = 204;
    })
    .post("/tasks/:id/run", ({ params, set }) => {
      const r = tasks.runNow(ctx, params.id);
      set.status = 201;
      return r;
    })
    .get(
      "/tasks/:id/runs",
      ({ params, query }) => tasks.listRuns(ctx.db, tasks.getTask(ctx.db, params.id).id, { before: query.before, limit: pageLimit(query.limit) }),
      { query: t.Object(PagingQuery) },
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
      const r = tasks.receiveTrigger(ctx, params.trigger_id, () => tasks.triggerPayload(request.headers.get("content-type"), raw));
      set.status = 202;
      return r;
    },
    { parse: "arrayBuffer" },
  );
}
