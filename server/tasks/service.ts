// Tasks: a task belongs to one agent and runs on a cron schedule, once, or
// when its webhook is called. This file holds the tasks themselves (shapes,
// schedules, create/change/delete, proposals) and the shapes and reads of
// their runs. A run goes due → running → completed | failed: run-create.ts
// makes it, open-runs.ts lists it to the agent, run-progress.ts starts and
// finishes it, run-context.ts is its scratchpad, run-timeout.ts fails it when
// it is left undone, trigger-call.ts makes one for a webhook call.
//
// All times come from ctx.now() so that tests can drive the schedule.
import { and, asc, desc, eq, inArray, lt, ne } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import type { Db } from "../db/index.ts";
import type { UnitOfWork } from "../db/unit-of-work.ts";
import { first, only } from "../db/rows.ts";
import { outbox, taskRuns, tasks, type decisions } from "../db/tables.ts";
import { newTriggerId, timeId } from "../lib/ids.ts";
import { isoMs, toApiTime } from "../lib/time.ts";
import { badRequest, notFound } from "../lib/errors.ts";
import type { Agent } from "../agents/service.ts";
import { describeSchedule, scheduleWords, nextSlot, nextSlots, parseRunAt, parseSchedule, type ParsedSchedule } from "./schedule.ts";
import type { Static } from "elysia";
import type { CreateTaskInput, RunView, SchedulePreview, TaskView, UpdateTaskInput } from "./model.ts";

export type Task = typeof tasks.$inferSelect;
export type Run = typeof taskRuns.$inferSelect;
export type RunTrigger = Run["trigger"];

// ---- public shapes ----

export function publicTask(ctx: Ctx, t: Task): Static<typeof TaskView> {
  const event = t.triggerType === "event";
  return {
    id: t.id,
    agent_id: t.agentId,
    name: t.name,
    prompt: t.prompt,
    schedule: t.schedule,
    schedule_description: scheduleWords(t.schedule, t.triggerType === "once" ? t.runAt : null),
    trigger_type: t.triggerType,
    timezone: t.timezone,
    enabled: t.enabled,
    next_run_at: t.enabled ? toApiTime(t.nextRunAt) : null,
    last_run_status: t.lastRunStatus,
    run_at: t.triggerType === "once" ? toApiTime(t.runAt) : null,
    trigger_id: event ? t.triggerId : null,
    trigger_url: event && t.triggerId ? triggerUrl(ctx, t.triggerId) : null,
    created_at: toApiTime(t.createdAt),
    updated_at: toApiTime(t.updatedAt),
  };
}

export const triggerUrl = (ctx: Ctx, triggerId: string) => `${ctx.config.publicUrl}/webhook/${triggerId}`;

export function publicRun(r: Run): Static<typeof RunView> {
  return {
    id: r.id,
    task_id: r.taskId,
    agent_id: r.agentId,
    status: r.status,
    trigger: r.trigger,
    summary: r.summary,
    created_at: toApiTime(r.createdAt),
    started_at: toApiTime(r.startedAt),
    finished_at: toApiTime(r.finishedAt),
  };
}

// ---- live frames (after the commit) ----

export const taskChanged = (uow: UnitOfWork, ctx: Ctx, t: Task) => uow.toInbox({ type: "task", task: publicTask(ctx, t) });
export const runChanged = (uow: UnitOfWork, r: Run) => uow.toInbox({ type: "task_run", run: publicRun(r) });

// ---- reading ----

export async function getTask(db: Db, id: string): Promise<Task> {
  const t = first(await db.select().from(tasks).where(eq(tasks.id, id)));
  if (!t) throw notFound("task");
  return t;
}

/** The agent's own task, or 404 (another agent's id looks exactly like an unknown one). */
export async function getAgentTask(db: Db, agentId: string, id: string): Promise<Task> {
  const t = first(await db.select().from(tasks).where(and(eq(tasks.id, id), eq(tasks.agentId, agentId))));
  if (!t) throw notFound("task");
  return t;
}

export async function listTasks(ctx: Ctx, agentId?: string) {
  const rows = await ctx.db
    .select()
    .from(tasks)
    .where(agentId ? eq(tasks.agentId, agentId) : undefined)
    .orderBy(asc(tasks.createdAt), asc(tasks.id));
  return rows.map((t) => publicTask(ctx, t));
}

export async function getAgentRun(db: Db, agentId: string, id: string): Promise<Run> {
  const r = first(await db.select().from(taskRuns).where(and(eq(taskRuns.id, id), eq(taskRuns.agentId, agentId))));
  if (!r) throw notFound("task run");
  return r;
}

export async function getRun(db: Db, id: string): Promise<Run> {
  const r = first(await db.select().from(taskRuns).where(eq(taskRuns.id, id)));
  if (!r) throw notFound("task run");
  return r;
}

/** A task's runs, newest first. */
export async function listRuns(db: Db, taskId: string, opts: { before?: string; limit: number }) {
  const rows = await db
    .select()
    .from(taskRuns)
    .where(and(eq(taskRuns.taskId, taskId), opts.before ? lt(taskRuns.id, opts.before) : undefined))
    .orderBy(desc(taskRuns.id))
    .limit(opts.limit);
  return rows.map(publicRun);
}

// ---- schedules ----

interface Timing {
  parsed: ParsedSchedule;
  runAt: string | null;
  nextRunAt: string | null;
  triggerId: string | null;
}

function firstRun(p: ParsedSchedule, runAtMs: number | null, nowMs: number): string | null {
  if (p.triggerType === "scheduled") {
    const next = nextSlot(p.schedule, p.timezone, nowMs);
    return next === null ? null : isoMs(next);
  }
  if (p.triggerType === "once") return isoMs(runAtMs ?? nowMs);
  return null;
}

function timingFor(
  input: { schedule: string; timezone?: string | null; run_at?: string | null },
  nowMs: number,
  fields = { schedule: "schedule", timezone: "timezone", runAt: "run_at" },
): Timing {
  const parsed = parseSchedule(input.schedule, input.timezone, fields.schedule, fields.timezone);
  let runAtMs: number | null = null;
  if (input.run_at !== undefined && input.run_at !== null && input.run_at !== "") {
    if (parsed.triggerType !== "once") throw badRequest(`${fields.runAt}: only for schedule "once"`);
    runAtMs = parseRunAt(input.run_at, parsed.timezone, fields.runAt);
  }
  if (parsed.triggerType === "once" && runAtMs === null) runAtMs = nowMs;
  return {
    parsed,
    runAt: runAtMs === null ? null : isoMs(runAtMs),
    nextRunAt: firstRun(parsed, runAtMs, nowMs),
    triggerId: parsed.triggerType === "event" ? newTriggerId() : null,
  };
}

/** The preview route: what a schedule means and when it would run next. */
export function previewSchedule(ctx: Ctx, q: { schedule: string; timezone?: string; run_at?: string }): Static<typeof SchedulePreview> {
  const now = ctx.now();
  const timing = timingFor(q, now);
  const p = timing.parsed;
  const runAtMs = timing.runAt ? Date.parse(timing.runAt) : null;
  const next =
    p.triggerType === "scheduled" ? nextSlots(p.schedule, p.timezone, now, 5) : p.triggerType === "once" ? [Math.max(runAtMs ?? now, now)] : [];
  return {
    schedule: p.schedule,
    trigger_type: p.triggerType,
    timezone: p.timezone,
    description: describeSchedule(p, q.run_at ? runAtMs : null),
    next_runs: next.map((ms) => toApiTime(isoMs(ms))),
  };
}

// ---- creating, changing, deleting ----

function checkName(name: string, field = "name") {
  const n = name.trim();
  if (!n) throw badRequest(`${field}: must not be empty`);
  return n;
}

function newTaskRow(agentId: string, input: { name: string; prompt: string; enabled?: boolean }, timing: Timing, nowMs: number, nameField = "name"): Task {
  const now = isoMs(nowMs);
  return {
    id: timeId("tsk_"),
    agentId,
    name: checkName(input.name, nameField),
    prompt: input.prompt,
    schedule: timing.parsed.schedule,
    triggerType: timing.parsed.triggerType,
    timezone: timing.parsed.timezone,
    runAt: timing.runAt,
    triggerId: timing.triggerId,
    enabled: input.enabled ?? true,
    nextRunAt: timing.nextRunAt,
    lastRunStatus: null,
    createdAt: now,
    updatedAt: now,
  };
}

export async function createTask(ctx: Ctx, agent: Agent, input: CreateTaskInput): Promise<Task> {
  const nowMs = ctx.now();
  const row = newTaskRow(agent.id, input, timingFor(input, nowMs), nowMs);
  await ctx.writer.now(async (uow) => {
    await uow.db.insert(tasks).values(row);
    taskChanged(uow, ctx, row);
    uow.tasksChanged();
  });
  ctx.log.info("task created", { task: row.id, agent: agent.id, schedule: row.schedule });
  return row;
}

/**
 * An approved task_proposal becomes a task, in the approval's unit of work.
 * A schedule nod cannot run fails the approval (400) and the request stays pending.
 */
export type TaskProposal = NonNullable<(typeof decisions.$inferSelect)["proposal"]>;
export async function createTaskFromProposal(ctx: Ctx, uow: UnitOfWork, agent: Agent, p: TaskProposal): Promise<string> {
  const nowMs = ctx.now();
  const timing = timingFor({ schedule: p.task_schedule, timezone: p.timezone }, nowMs, {
    schedule: "task_schedule",
    timezone: "timezone",
    runAt: "run_at",
  });
  const row = newTaskRow(agent.id, { name: p.task_name, prompt: p.task_prompt }, timing, nowMs, "task_name");
  await uow.db.insert(tasks).values(row);
  taskChanged(uow, ctx, row);
  uow.tasksChanged();
  return row.id;
}

/** What a change makes of task t: the fields given, and the schedule's times computed again from now. */
function taskPatch(t: Task, input: UpdateTaskInput, nowMs: number): Partial<Task> {
  const patch: Partial<Task> = { updatedAt: isoMs(nowMs) };
  if (input.name !== undefined) patch.name = checkName(input.name);
  if (input.prompt !== undefined) patch.prompt = input.prompt;
  const scheduleChanged = input.schedule !== undefined || input.timezone !== undefined || input.run_at !== undefined;
  let triggerType = t.triggerType;
  if (scheduleChanged) {
    const schedule = input.schedule ?? t.schedule;
    const timezone = input.timezone !== undefined ? input.timezone : t.timezone;
    const parsed = parseSchedule(schedule, timezone);
    triggerType = parsed.triggerType;
    patch.schedule = parsed.schedule;
    patch.triggerType = parsed.triggerType;
    patch.timezone = parsed.timezone;
    patch.triggerId = parsed.triggerType === "event" ? (t.triggerId ?? newTriggerId()) : null;
    if (parsed.triggerType === "once") {
      if (input.run_at) {
        const runAt = isoMs(parseRunAt(input.run_at, parsed.timezone));
        patch.runAt = runAt;
        patch.nextRunAt = runAt; // a new time: it runs (again) then
      } else if (t.triggerType !== "once") {
        patch.runAt = isoMs(nowMs);
        patch.nextRunAt = patch.runAt;
      } // else: a once task keeps its time, and stays done once it has run
    } else {
      if (input.run_at) throw badRequest('run_at: only for schedule "once"');
      patch.runAt = null;
      patch.nextRunAt = firstRun(parsed, null, nowMs);
    }
  }
  if (input.enabled !== undefined) {
    patch.enabled = input.enabled;
    // Re-enabled: a cron task carries on from now; the slots it skipped while off are not made up.
    if (input.enabled && !t.enabled && triggerType === "scheduled" && !scheduleChanged)
      patch.nextRunAt = firstRun(parseSchedule(t.schedule, t.timezone), null, nowMs);
  }
  return patch;
}

export async function updateTask(ctx: Ctx, id: string, input: UpdateTaskInput): Promise<Task> {
  const nowMs = ctx.now();
  // Read in the unit that writes: the patch starts from the row as it is at the write
  // (a change or delete committed meanwhile is seen, not overwritten from an older read).
  return ctx.writer.now(async (uow) => {
    const t = await getTask(uow.db, id);
    const updated = only(await uow.db.update(tasks).set(taskPatch(t, input, nowMs)).where(eq(tasks.id, id)).returning());
    taskChanged(uow, ctx, updated);
    uow.tasksChanged();
    return updated;
  });
}

export async function deleteTask(ctx: Ctx, id: string) {
  await ctx.writer.now(async (uow) => {
    const db = uow.db;
    const t = await getTask(db, id); // in the unit: a task deleted meanwhile is a 404, not a second task_deleted
    // Events about its runs that have not reached the agent yet would point at nothing.
    const events = (await db.select({ id: taskRuns.triggerEventId }).from(taskRuns).where(eq(taskRuns.taskId, id)))
      .map((r) => r.id)
      .filter((e): e is string => !!e);
    for (let i = 0; i < events.length; i += 500)
      await db.delete(outbox).where(and(inArray(outbox.id, events.slice(i, i + 500)), ne(outbox.status, "delivered")));
    await db.delete(tasks).where(eq(tasks.id, id)); // runs and their context go with it
    uow.toInbox({ type: "task_deleted", task_id: id, agent_id: t.agentId });
    uow.tasksChanged();
  });
  ctx.log.info("task deleted", { task: id });
}
