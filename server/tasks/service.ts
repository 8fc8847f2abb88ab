// Tasks and their runs. A task belongs to one agent and runs on a cron
// schedule, once, or when its webhook is called. Each run goes
// due → running → completed | failed; the agent hears of a due run through the
// outbox (task_due / task_trigger), written in the run's own transaction.
//
// All times come from ctx.now() so that tests can drive the schedule.
import { and, asc, desc, eq, inArray, lt, ne, sql } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import { inTx, type Db } from "../db/index.ts";
import { outbox, runContext, taskRuns, tasks } from "../db/schema.ts";
import { newTriggerId, timeId } from "../lib/ids.ts";
import { isoMs, toApiTime } from "../lib/time.ts";
import { badRequest, conflict, notFound, tooLarge, tooManyRequests } from "../lib/errors.ts";
import { RateLimiter } from "../auth/rate-limit.ts";
import type { Agent } from "../agents/service.ts";
import { setProposalApprover, type Decision } from "../decisions/service.ts";
import { insertMessage, publishMessage, resolveConversation } from "../conversations/service.ts";
import { publishActivity, recordActivity, type Activity } from "../activity/service.ts";
import { enqueueAgentEvent, markDelivered } from "../delivery/outbox.ts";
import { prepared } from "../db/prepared.ts";
import { INBOX_TOPIC } from "../realtime/hub.ts";
import { describeSchedule, nextSlot, nextSlots, parseRunAt, parseSchedule, type ParsedSchedule } from "./schedule.ts";
import { TASK_LIMITS, type CreateTaskInput, type UpdateTaskInput } from "./model.ts";

export type Task = typeof tasks.$inferSelect;
export type Run = typeof taskRuns.$inferSelect;
export type RunTrigger = Run["trigger"];

// ---- public shapes ----

export function publicTask(ctx: Ctx, t: Task) {
  const event = t.triggerType === "event";
  return {
    id: t.id,
    agent_id: t.agentId,
    name: t.name,
    prompt: t.prompt,
    schedule: t.schedule,
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

export function publicRun(r: Run) {
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

// ---- live frames; skipped when no inbox is open (the scheduler fires thousands at once) ----

const inboxOpen = (ctx: Ctx) => ctx.hub.subscriberCount(INBOX_TOPIC) > 0;
export function publishTask(ctx: Ctx, t: Task) {
  if (inboxOpen(ctx)) ctx.hub.toInbox({ type: "task", task: publicTask(ctx, t) });
}
export function publishRun(ctx: Ctx, r: Run) {
  if (inboxOpen(ctx)) ctx.hub.toInbox({ type: "task_run", run: publicRun(r) });
}

// ---- the scheduler's doorbell: services ring it when tasks change ----

const changeListeners = new WeakMap<Ctx, Set<() => void>>();
/** Registers fn to run whenever tasks change; returns the function that unregisters it. */
export function onTasksChanged(ctx: Ctx, fn: () => void): () => void {
  let set = changeListeners.get(ctx);
  if (!set) changeListeners.set(ctx, (set = new Set()));
  set.add(fn);
  return () => void set.delete(fn);
}
const tasksChanged = (ctx: Ctx) => changeListeners.get(ctx)?.forEach((fn) => fn());

// ---- reading ----

export function getTask(db: Db, id: string): Task {
  const t = db.select().from(tasks).where(eq(tasks.id, id)).get();
  if (!t) throw notFound("task");
  return t;
}

/** The agent's own task, or 404 (another agent's id looks exactly like an unknown one). */
export function getAgentTask(db: Db, agentId: string, id: string): Task {
  const t = db.select().from(tasks).where(and(eq(tasks.id, id), eq(tasks.agentId, agentId))).get();
  if (!t) throw notFound("task");
  return t;
}

export function listTasks(ctx: Ctx, agentId?: string) {
  return ctx.db
    .select()
    .from(tasks)
    .where(agentId ? eq(tasks.agentId, agentId) : undefined)
    .orderBy(asc(tasks.createdAt), asc(tasks.id))
    .all()
    .map((t) => publicTask(ctx, t));
}

export function getAgentRun(db: Db, agentId: string, id: string): Run {
  const r = db.select().from(taskRuns).where(and(eq(taskRuns.id, id), eq(taskRuns.agentId, agentId))).get();
  if (!r) throw notFound("task run");
  return r;
}

export function getRun(db: Db, id: string): Run {
  const r = db.select().from(taskRuns).where(eq(taskRuns.id, id)).get();
  if (!r) throw notFound("task run");
  return r;
}

/** A task's runs, newest first. */
export function listRuns(db: Db, taskId: string, opts: { before?: string; limit: number }) {
  return db
    .select()
    .from(taskRuns)
    .where(and(eq(taskRuns.taskId, taskId), opts.before ? lt(taskRuns.id, opts.before) : undefined))
    .orderBy(desc(taskRuns.id))
    .limit(opts.limit)
    .all()
    .map(publicRun);
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
export function previewSchedule(ctx: Ctx, q: { schedule: string; timezone?: string; run_at?: string }) {
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

export function createTask(ctx: Ctx, agent: Agent, input: CreateTaskInput): Task {
  const nowMs = ctx.now();
  const row = newTaskRow(agent.id, input, timingFor(input, nowMs), nowMs);
  ctx.db.insert(tasks).values(row).run();
  publishTask(ctx, row);
  tasksChanged(ctx);
  ctx.log.info("task created", { task: row.id, agent: agent.id, schedule: row.schedule });
  return row;
}

/**
 * An approved task_proposal becomes a task, inside the approval's transaction.
 * A schedule nod cannot run fails the approval (400) and the request stays pending.
 */
export function createTaskFromProposal(ctx: Ctx, agent: Agent, d: Decision): string {
  const p = d.proposal!;
  const nowMs = ctx.now();
  const timing = timingFor({ schedule: p.task_schedule, timezone: p.timezone }, nowMs, {
    schedule: "task_schedule",
    timezone: "timezone",
    runAt: "run_at",
  });
  const row = newTaskRow(agent.id, { name: p.task_name, prompt: p.task_prompt }, timing, nowMs, "task_name");
  ctx.db.insert(tasks).values(row).run();
  // The approval's transaction commits when the caller returns: announce the
  // task afterwards, and only if it was committed.
  queueMicrotask(() => {
    const t = ctx.db.select().from(tasks).where(eq(tasks.id, row.id)).get();
    if (!t) return;
    publishTask(ctx, t);
    tasksChanged(ctx);
    ctx.log.info("task created from proposal", { task: t.id, agent: agent.id, decision: d.id });
  });
  return row.id;
}

export function updateTask(ctx: Ctx, id: string, input: UpdateTaskInput): Task {
  const t = getTask(ctx.db, id);
  const nowMs = ctx.now();
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
  const updated = ctx.db.update(tasks).set(patch).where(eq(tasks.id, id)).returning().get()!;
  publishTask(ctx, updated);
  tasksChanged(ctx);
  return updated;
}

export function deleteTask(ctx: Ctx, id: string) {
  const t = getTask(ctx.db, id);
  inTx(ctx.db, () => {
    // Events about its runs that have not reached the agent yet would point at nothing.
    const events = ctx.db
      .select({ id: taskRuns.triggerEventId })
      .from(taskRuns)
      .where(eq(taskRuns.taskId, id))
      .all()
      .map((r) => r.id)
      .filter((e): e is string => !!e);
    for (let i = 0; i < events.length; i += 500)
      ctx.db.delete(outbox).where(and(inArray(outbox.id, events.slice(i, i + 500)), ne(outbox.status, "delivered"))).run();
    ctx.db.delete(tasks).where(eq(tasks.id, id)).run(); // runs and their context go with it
  });
  if (inboxOpen(ctx)) ctx.hub.toInbox({ type: "task_deleted", task_id: id, agent_id: t.agentId });
  tasksChanged(ctx);
  ctx.log.info("task deleted", { task: id });
}

// ---- runs ----

const insertRunStmt = (db: Db) =>
  prepared(db, "tasks.insertRun", (db) =>
    db.$client.prepare<unknown, [string, string, string, string, string, string | null, string | null, string, string | null]>(
      `INSERT INTO task_runs (id, task_id, agent_id, status, "trigger", trigger_event_id, payload, summary, created_at, started_at, finished_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, NULL)`,
    ),
  );

/**
 * Creates a run inside the caller's transaction. A due run is announced to the
 * agent: task_due, or task_trigger for a webhook call (with its payload).
 * The caller wakes the dispatcher and publishes after the commit.
 */
export function insertRun(db: Db, t: Pick<Task, "id" | "agentId" | "name" | "prompt" | "schedule">, trigger: RunTrigger, nowMs: number, payload?: unknown): Run {
  const id = timeId("run_");
  const now = isoMs(nowMs);
  let eventId: string | null = null;
  if (trigger === "event")
    eventId = enqueueAgentEvent(db, t.agentId, "task_trigger", { task_id: t.id, run_id: id, task_name: t.name, task_prompt: t.prompt, payload });
  else if (trigger !== "agent")
    eventId = enqueueAgentEvent(db, t.agentId, "task_due", { task_id: t.id, run_id: id, task_name: t.name, task_prompt: t.prompt, schedule: t.schedule });
  const run: Run = {
    id,
    taskId: t.id,
    agentId: t.agentId,
    status: trigger === "agent" ? "running" : "due",
    trigger,
    triggerEventId: eventId,
    payload: trigger === "event" ? (payload ?? null) : null,
    summary: null,
    createdAt: now,
    startedAt: trigger === "agent" ? now : null,
    finishedAt: null,
  };
  // Prepared once per database: the scheduler inserts thousands of these in a burst.
  insertRunStmt(db).run(
    run.id,
    run.taskId,
    run.agentId,
    run.status,
    run.trigger,
    run.triggerEventId,
    run.payload === null || run.payload === undefined ? null : JSON.stringify(run.payload),
    run.createdAt,
    run.startedAt,
  );
  return run;
}

/** The agent acted on this run: the event that announced it no longer needs replaying. */
function markAnnounced(db: Db, run: Run) {
  if (run.triggerEventId) markDelivered(db, run.triggerEventId, "poll");
}

/** A person's "run now": a due run, and task_due to the agent. */
export function runNow(ctx: Ctx, id: string) {
  const t = getTask(ctx.db, id);
  const run = inTx(ctx.db, () => insertRun(ctx.db, t, "manual", ctx.now()));
  ctx.delivery.wake(t.agentId);
  publishRun(ctx, run);
  return { run_id: run.id };
}

/** Due runs of one agent with their task, oldest first: polled (trigger "event") or not. */
function openRuns(ctx: Ctx, agent: Agent, event: boolean) {
  const rows = ctx.db
    .select({ run: taskRuns, task: tasks })
    .from(taskRuns)
    .innerJoin(tasks, eq(tasks.id, taskRuns.taskId))
    .where(and(eq(taskRuns.agentId, agent.id), eq(taskRuns.status, "due"), event ? eq(taskRuns.trigger, "event") : ne(taskRuns.trigger, "event")))
    .orderBy(asc(taskRuns.id))
    .all();
  // The agent has now been told of these runs: their events need no replay over a
  // socket nor a webhook POST. The runs stay listed until started or completed.
  const unsent = rows.filter((r) => r.run.triggerEventId);
  if (unsent.length) inTx(ctx.db, () => unsent.forEach((r) => markAnnounced(ctx.db, r.run)));
  return rows;
}

/** Each run that is due and not yet started (webhook runs are listed by pendingTriggers). */
export function dueRuns(ctx: Ctx, agent: Agent) {
  return openRuns(ctx, agent, false).map(({ run, task }) => ({
    id: task.id,
    name: task.name,
    prompt: task.prompt,
    schedule: task.schedule,
    trigger_type: task.triggerType,
    enabled: task.enabled,
    run_id: run.id,
    due_at: toApiTime(run.createdAt),
  }));
}

/** Webhook calls whose run has not been started or completed yet, oldest first. */
export function pendingTriggers(ctx: Ctx, agent: Agent) {
  return openRuns(ctx, agent, true).map(({ run, task }) => ({
    id: run.triggerEventId,
    task_id: task.id,
    task_name: task.name,
    task_prompt: task.prompt,
    payload: run.payload ?? null,
    run_id: run.id,
    received_at: toApiTime(run.createdAt),
  }));
}

/**
 * The agent starts work on a task: its oldest due run becomes running, or, if
 * none is due, a new running run is made (trigger "agent").
 */
export function startRun(ctx: Ctx, agent: Agent, taskId: string) {
  const nowMs = ctx.now();
  const run = inTx(ctx.db, () => {
    const t = getAgentTask(ctx.db, agent.id, taskId);
    const due = ctx.db
      .select()
      .from(taskRuns)
      .where(and(eq(taskRuns.taskId, t.id), eq(taskRuns.status, "due")))
      .orderBy(asc(taskRuns.id))
      .limit(1)
      .get();
    if (!due) return insertRun(ctx.db, t, "agent", nowMs);
    markAnnounced(ctx.db, due);
    return ctx.db
      .update(taskRuns)
      .set({ status: "running", startedAt: isoMs(nowMs) })
      .where(eq(taskRuns.id, due.id))
      .returning()
      .get()!;
  });
  publishRun(ctx, run);
  return { run_id: run.id };
}

const finished = (r: Run) => r.status === "completed" || r.status === "failed";

/**
 * The agent reports a run's result. For an interactive agent the summary
 * becomes a task message in its default conversation; the run's context
 * blocks are deleted and the task's last_run_status follows.
 */
export function completeRun(ctx: Ctx, agent: Agent, runId: string, status: "completed" | "failed", summary: string | null | undefined) {
  if (summary && Buffer.byteLength(summary, "utf8") > TASK_LIMITS.summaryBytes)
    throw tooLarge(`summary: at most ${TASK_LIMITS.summaryBytes / 1024} KiB of markdown`);
  const nowMs = ctx.now();
  const now = isoMs(nowMs);
  const db = ctx.db;
  const out = inTx(db, () => {
    const r = getAgentRun(db, agent.id, runId);
    if (finished(r)) throw conflict(`task run already ${r.status}`);
    const run = db
      .update(taskRuns)
      .set({ status, summary: summary ?? null, startedAt: r.startedAt ?? r.createdAt, finishedAt: now })
      .where(eq(taskRuns.id, r.id))
      .returning()
      .get()!;
    markAnnounced(db, r);
    db.delete(runContext).where(eq(runContext.runId, r.id)).run();
    const task = db.update(tasks).set({ lastRunStatus: status }).where(eq(tasks.id, r.taskId)).returning().get()!;
    let message: ReturnType<typeof insertMessage> | null = null;
    let newConversation: ReturnType<typeof resolveConversation>["conversation"] | null = null;
    if (agent.type === "interactive") {
      const { conversation, created } = resolveConversation(db, agent, null, now);
      message = insertMessage(db, { agentId: agent.id, conversationId: conversation.id, role: "task", text: summary ?? "", reportTitle: task.name, taskRunId: r.id }, now);
      if (created) newConversation = conversation;
    }
    const act = recordActivity(db, agent.id, "system", `${task.name}: run ${status}`, null, r.id);
    return { run, task, message, newConversation, act };
  });
  if (out.message) publishMessage(ctx, out.message, out.newConversation);
  publishRun(ctx, out.run);
  publishTask(ctx, out.task);
  publishActivity(ctx, out.act);
  ctx.metrics.inc("nod_task_runs_finished_total", "Task runs finished, by status", { status });
  return { status, run_id: out.run.id };
}

// ---- the context scratchpad ----

export function addContext(ctx: Ctx, agent: Agent, runId: string, text: string) {
  if (Buffer.byteLength(text, "utf8") > TASK_LIMITS.contextBytes) throw tooLarge(`text: at most ${TASK_LIMITS.contextBytes / 1024} KiB per block`);
  const now = isoMs(ctx.now());
  const blockId = inTx(ctx.db, () => {
    const r = getAgentRun(ctx.db, agent.id, runId);
    if (finished(r)) throw conflict(`task run already ${r.status}: its context was cleared`);
    const last = ctx.db
      .select({ max: sql<number | null>`max(${runContext.blockId})` })
      .from(runContext)
      .where(eq(runContext.runId, r.id))
      .get();
    const blockId = (last?.max ?? 0) + 1;
    ctx.db.insert(runContext).values({ runId: r.id, blockId, text, createdAt: now }).run();
    return blockId;
  });
  return { status: "ok", block_id: blockId };
}

export function getContext(ctx: Ctx, agent: Agent, runId: string) {
  const r = getAgentRun(ctx.db, agent.id, runId);
  const blocks = ctx.db.select().from(runContext).where(eq(runContext.runId, r.id)).orderBy(asc(runContext.blockId)).all();
  return { run_id: r.id, blocks: blocks.map((b) => ({ id: b.blockId, text: b.text, created_at: toApiTime(b.createdAt) })) };
}

// ---- the timeout ----

export const STALE_BATCH = 500;

/** Fails runs not completed within config.runTimeoutMs of becoming due. Returns how many. */
export function failStaleRuns(ctx: Ctx, nowMs: number, limit = STALE_BATCH): number {
  const cutoff = isoMs(nowMs - ctx.config.runTimeoutMs);
  const now = isoMs(nowMs);
  const hours = Math.round((ctx.config.runTimeoutMs / 3_600_000) * 10) / 10;
  const summary = `Timed out: not completed within ${hours >= 1 ? `${hours} h` : `${Math.round(ctx.config.runTimeoutMs / 1000)} s`}.`;
  // Agents first (CROSS JOIN fixes the order), then each one's open runs through
  // the (agent_id, status) index: the finished history is never scanned.
  const ids = ctx.db.$client
    .query<{ id: string }, [string, number]>(
      `SELECT r.id FROM agents a CROSS JOIN task_runs r ON r.agent_id = a.id AND r.status IN ('due', 'running')
       WHERE r.created_at < ? LIMIT ?`,
    )
    .all(cutoff, limit)
    .map((r) => r.id);
  if (!ids.length) return 0;
  const stale = ctx.db.select().from(taskRuns).where(inArray(taskRuns.id, ids)).all();
  const done: { run: Run; task: Task; act: Activity }[] = [];
  inTx(ctx.db, () => {
    for (const r of stale) {
      const run = ctx.db
        .update(taskRuns)
        .set({ status: "failed", summary, startedAt: r.startedAt, finishedAt: now })
        .where(and(eq(taskRuns.id, r.id), inArray(taskRuns.status, ["due", "running"])))
        .returning()
        .get();
      if (!run) continue;
      ctx.db.delete(runContext).where(eq(runContext.runId, r.id)).run();
      // An announcement the agent never received is moot now.
      if (r.triggerEventId) ctx.db.delete(outbox).where(and(eq(outbox.id, r.triggerEventId), ne(outbox.status, "delivered"))).run();
      const task = ctx.db.update(tasks).set({ lastRunStatus: "failed" }).where(eq(tasks.id, r.taskId)).returning().get()!;
      const act = recordActivity(ctx.db, r.agentId, "system", `${task.name}: run timed out`, summary, r.id);
      done.push({ run, task, act });
    }
  });
  for (const d of done) {
    publishRun(ctx, d.run);
    publishTask(ctx, d.task);
    publishActivity(ctx, d.act);
  }
  if (done.length) {
    ctx.metrics.inc("nod_task_runs_finished_total", "Task runs finished, by status", { status: "timed_out" }, done.length);
    ctx.log.info("task runs timed out", { count: done.length });
  }
  return ids.length;
}

// ---- the inbound webhook ----

export const TRIGGER_RATE = { limit: 60, windowMs: 60_000 };
const limiters = new WeakMap<Ctx, RateLimiter>();

/**
 * Payload of a webhook call: JSON bodies as they are, anything else {content_type, body}.
 * A body that is JSON counts whatever its Content-Type says (curl -d sends a form
 * type, fetch() with a string text/plain), as long as it starts with { or [.
 */
export function triggerPayload(contentType: string | null, raw: Uint8Array): unknown {
  const text = new TextDecoder().decode(raw);
  const ct = (contentType ?? "").toLowerCase();
  if (ct.includes("json") || /^\s*[{[]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {}
  }
  return { content_type: contentType || null, body: text };
}

/** POST /webhook/:trigger_id — a due run of the event task and task_trigger to its agent. */
export function receiveTrigger(ctx: Ctx, triggerId: string, payload: () => unknown) {
  if (!/^[0-9a-f]{64}$/.test(triggerId)) throw notFound("trigger");
  const t = ctx.db.select().from(tasks).where(eq(tasks.triggerId, triggerId)).get();
  if (!t || t.triggerType !== "event") throw notFound("trigger");
  if (!t.enabled) throw conflict("this task is disabled");
  let limiter = limiters.get(ctx);
  if (!limiter) limiters.set(ctx, (limiter = new RateLimiter(TRIGGER_RATE.limit, TRIGGER_RATE.windowMs)));
  const nowMs = ctx.now();
  const wait = limiter.retryAfter(triggerId, nowMs);
  if (wait > 0) throw tooManyRequests(`too many calls to this trigger (at most ${TRIGGER_RATE.limit} a minute)`, wait);
  limiter.hit(triggerId, nowMs);
  const body = payload();
  const run = inTx(ctx.db, () => insertRun(ctx.db, t, "event", nowMs, body));
  ctx.delivery.wake(t.agentId);
  publishRun(ctx, run);
  ctx.metrics.inc("nod_task_runs_created_total", "Task runs created, by trigger", { trigger: "event" });
  return { status: "accepted", run_id: run.id };
}

// Approving a task_proposal creates the task inside the approval's transaction.
setProposalApprover(createTaskFromProposal);
