// People's task routes (API.md "People: tasks"): /api/tasks, /api/tasks/preview,
// /api/tasks/runs/:run_id, /api/agents/:id/tasks, /api/tasks/:id, /api/tasks/:id/run
// and /api/tasks/:id/runs.
import { t } from "elysia";
import type { Ctx } from "../context.ts";
import { forPeople } from "../auth/guard.ts";
import { getAgent } from "../agents/service.ts";
import { PagingQuery, pageLimit } from "../lib/paging.ts";
import { doc, errors } from "../lib/schemas.ts";
import { CreateTaskBody, PreviewQuery, RunId, RunView, SchedulePreview, TaskListQuery, TaskView, UpdateTaskBody } from "./model.ts";
import * as tasks from "./service.ts";
import { runNow } from "./run-create.ts";

export function peopleTaskRoutes(ctx: Ctx) {
  return forPeople(ctx)
    .get("/api/tasks", ({ query }) => tasks.listTasks(ctx, query.agent_id), {
      query: TaskListQuery,
      response: { 200: t.Array(TaskView), ...errors(400, 401) },
      ...doc("Tasks of every agent, or of one (?agent_id=)"),
    })
    .get("/api/tasks/preview", ({ query }) => tasks.previewSchedule(ctx, query), {
      query: PreviewQuery,
      response: { 200: SchedulePreview, ...errors(400, 401) },
      ...doc("Check a schedule: its description and next five runs", "nod's addition for the task editor. Creates nothing; a bad schedule, timezone or run_at is a 400 naming it."),
    })
    .get("/api/tasks/runs/:run_id", async ({ params }) => tasks.publicRun(await tasks.getRun(ctx.db, params.run_id)), {
      response: { 200: RunView, ...errors(401, 404) },
      ...doc("A run"),
    })
    .post("/api/agents/:id/tasks", async ({ params, body, status }) => status(201, tasks.publicTask(ctx, await tasks.createTask(ctx, await getAgent(ctx.db, params.id), body))), {
      body: CreateTaskBody,
      response: { 201: TaskView, ...errors(400, 401, 403, 404, 413) },
      ...doc("Create a task for an agent"),
    })
    .get("/api/tasks/:id", async ({ params }) => tasks.publicTask(ctx, await tasks.getTask(ctx.db, params.id)), {
      response: { 200: TaskView, ...errors(401, 404) },
      ...doc("A task"),
    })
    .patch("/api/tasks/:id", async ({ params, body }) => tasks.publicTask(ctx, await tasks.updateTask(ctx, params.id, body)), {
      body: UpdateTaskBody,
      response: { 200: TaskView, ...errors(400, 401, 403, 404, 413) },
      ...doc("Change a task", "Takes effect at once: the next run is recomputed from now."),
    })
    .delete(
      "/api/tasks/:id",
      async ({ params, set }) => {
        await tasks.deleteTask(ctx, params.id);
        set.status = 204;
      },
      { response: { 204: t.Void({ description: "Deleted" }), ...errors(401, 403, 404) }, ...doc("Delete a task and its runs") },
    )
    .post("/api/tasks/:id/run", async ({ params, status }) => status(201, await runNow(ctx, params.id)), {
      response: { 201: RunId, ...errors(401, 403, 404) },
      ...doc("Run a task now", "A due run; the agent receives task_due."),
    })
    .get(
      "/api/tasks/:id/runs",
      async ({ params, query }) => tasks.listRuns(ctx.db, (await tasks.getTask(ctx.db, params.id)).id, { before: query.before, limit: pageLimit(query.limit) }),
      { query: t.Object(PagingQuery), response: { 200: t.Array(RunView), ...errors(400, 401, 404) }, ...doc("A task's runs, newest first") },
    );
}
