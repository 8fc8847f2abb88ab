// People's task routes (API.md "People: tasks"): /api/tasks, /api/tasks/preview,
// /api/tasks/runs/:run_id, /api/agents/:id/tasks, /api/tasks/:id, /api/tasks/:id/run
// and /api/tasks/:id/runs.
import { Elysia, t } from "elysia";
import type { Ctx } from "../context.ts";
import { personGuard } from "../auth/guard.ts";
import { getAgent } from "../agents/service.ts";
import { doc } from "../lib/schemas.ts";
import { PagingQuery, pageLimit } from "../lib/paging.ts";
import { CreateTaskBody, PreviewQuery, TaskListQuery, UpdateTaskBody } from "./model.ts";
import * as tasks from "./service.ts";
import * as runs from "./runs.ts";

/** The people's task routes (API.md "People: tasks") and the editor's schedule preview. */
export function peopleTaskRoutes(ctx: Ctx) {
  return new Elysia()
    .use(personGuard(ctx))
    .get("/api/tasks", ({ query }) => tasks.listTasks(ctx, query.agent_id), {
      query: TaskListQuery,
      ...doc("Tasks of every agent, or of one (?agent_id=)"),
    })
    .get("/api/tasks/preview", ({ query }) => tasks.previewSchedule(ctx, query), {
      query: PreviewQuery,
      ...doc("Check a schedule: its description and next five runs", "nod's addition for the task editor. Creates nothing; a bad schedule, timezone or run_at is a 400 naming it."),
    })
    .get("/api/tasks/runs/:run_id", ({ params }) => tasks.publicRun(tasks.getRun(ctx.db, params.run_id)), doc("A run"))
    .post(
      "/api/agents/:id/tasks",
      ({ params, body, set }) => {
        const task = tasks.createTask(ctx, getAgent(ctx.db, params.id), body);
        set.status = 201;
        return tasks.publicTask(ctx, task);
      },
      { body: CreateTaskBody, ...doc("Create a task for an agent") },
    )
    .get("/api/tasks/:id", ({ params }) => tasks.publicTask(ctx, tasks.getTask(ctx.db, params.id)), doc("A task"))
    .patch("/api/tasks/:id", ({ params, body }) => tasks.publicTask(ctx, tasks.updateTask(ctx, params.id, body)), {
      body: UpdateTaskBody,
      ...doc("Change a task", "Takes effect at once: the next run is recomputed from now."),
    })
    .delete(
      "/api/tasks/:id",
      ({ params, set }) => {
        tasks.deleteTask(ctx, params.id);
        set.status = 204;
      },
      doc("Delete a task and its runs"),
    )
    .post(
      "/api/tasks/:id/run",
      ({ params, set }) => {
        const r = runs.runNow(ctx, params.id);
        set.status = 201;
        return r;
      },
      doc("Run a task now", "A due run; the agent receives task_due. Answers {run_id}."),
    )
    .get(
      "/api/tasks/:id/runs",
      ({ params, query }) => tasks.listRuns(ctx.db, tasks.getTask(ctx.db, params.id).id, { before: query.before, limit: pageLimit(query.limit) }),
      { query: t.Object(PagingQuery), ...doc("A task's runs, newest first") },
    );
}

