// Runs of tasks: created when a task is due (the scheduler), run now by a
// person, or triggered by a webhook call; started, completed or timed out;
// and each run's context scratchpad. A due run is announced to the agent
// through the outbox (task_due / task_trigger) in the run's own transaction.
import { and, asc, eq, inArray, ne, sql } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import type { Db } from "../db/index.ts";
import type { UnitOfWork } from "../db/unit-of-work.ts";
import { outbox, runContext, taskRuns, tasks } from "../db/schema.ts";
import { timeId } from "../lib/ids.ts";
import { isoMs, toApiTime } from "../lib/time.ts";
import { conflict, notFound, tooLarge, tooManyRequests } from "../lib/errors.ts";
import { RateLimiter } from "../auth/rate-limit.ts";
import { checkJsonDepth } from "../lib/json-depth.ts";
import type { Agent } from "../agents/service.ts";
import { insertMessage, resolveConversation } from "../conversations/service.ts";
import { recordActivity } from "../activity/service.ts";
import { notifyPeople } from "../push/notices.ts";
import { markDelivered } from "../db/outbox.ts";
import { prepared } from "../db/prepared.ts";
import type { Static } from "elysia";
import { TASK_LIMITS, type ContextAdded, type DueRun, type PendingTrigger, type RunContext, type RunFinished, type RunId, type TriggerAccepted } from "./model.ts";
import { getAgentRun, getAgentTask, getTask, runChanged, taskChanged, type Run, type RunTrigger, type Task } from "./service.ts";

// ---- creating and announcing runs ----

const insertRunStmt = (db: Db) =>
  prepared(db, "tasks.insertRun", (db) =>
    db.$client.prepare<unknown, [string, string, string, string, string, string | null, string | null, string, string | null]>(
      `INSERT INTO task_runs (id, task_id, agent_id, status, "trigger", trigger_event_id, payload, summary, created_at, started_at, finished_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, NULL)`,
    ),
  );

/**
 * Creates a run in the caller's unit of work. A due run is announced to the
 * agent: task_due, or task_trigger for a webhook call (with its payload).
 */
export function insertRun(uow: UnitOfWork, t: Pick<Task, "id" | "agentId" | "name" | "prompt" | "schedule">, trigger: RunTrigger, nowMs: number, payload?: unknown): Run {
  const id = timeId("run_");
  const now = isoMs(nowMs);
  let eventId: string | null = null;
  if (trigger === "event")
    eventId = uow.toAgent(t.agentId, "task_trigger", { task_id: t.id, run_id: id, task_name: t.name, task_prompt: t.prompt, payload }, now);
  else if (trigger !== "agent")
    eventId = uow.toAgent(t.agentId, "task_due", { task_id: t.id, run_id: id, task_name: t.name, task_prompt: t.prompt, schedule: t.schedule }, now);
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
  insertRunStmt(uow.db).run(
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
  runChanged(uow, run);
  return run;
}

/** The agent has seen this run (polled, started or completed it): the event that announced it needs no delivery any more. */
function announcementSeen(db: Db, run: Run) {
  if (run.triggerEventId) markDelivered(db, run.triggerEventId, "poll");
}

/** A person's "run now": a due run, and task_due to the agent. */
export function runNow(ctx: Ctx, id: string): Static<typeof RunId> {
  const t = getTask(ctx.db, id);
  const run = ctx.writer.now((uow) => insertRun(uow, t, "manual", ctx.now()));
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
  if (unsent.length) ctx.writer.now((uow) => unsent.forEach((r) => announcementSeen(uow.db, r.run)));
  return rows;
}

/** Each run that is due and not yet started (webhook runs are listed by pendingTriggers). */
export function dueRuns(ctx: Ctx, agent: Agent): Static<typeof DueRun>[] {
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
export function pendingTriggers(ctx: Ctx, agent: Agent): Static<typeof PendingTrigger>[] {
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
export function startRun(ctx: Ctx, agent: Agent, taskId: string): Static<typeof RunId> {
  const nowMs = ctx.now();
  const run = ctx.writer.now((uow) => {
    const db = uow.db;
    const t = getAgentTask(db, agent.id, taskId);
    const due = db
      .select()
      .from(taskRuns)
      .where(and(eq(taskRuns.taskId, t.id), eq(taskRuns.status, "due")))
      .orderBy(asc(taskRuns.id))
      .limit(1)
      .get();
    if (!due) return insertRun(uow, t, "agent", nowMs);
    announcementSeen(db, due);
    const run = db.update(taskRuns).set({ status: "running", startedAt: isoMs(nowMs) }).where(eq(taskRuns.id, due.id)).returning().get()!;
    runChanged(uow, run);
    return run;
  });
  return { run_id: run.id };
}

const finished = (r: Run) => r.status === "completed" || r.status === "failed";

/**
 * The agent reports a run's result. For an interactive agent the summary
 * becomes a task message in its default conversation; the run's context
 * blocks are deleted and the task's last_run_status follows.
 */
export function completeRun(ctx: Ctx, agent: Agent, runId: string, status: "completed" | "failed", summary: string | null | undefined): Static<typeof RunFinished> {
  if (summary && Buffer.byteLength(summary, "utf8") > TASK_LIMITS.summaryBytes)
    throw tooLarge(`summary: at most ${TASK_LIMITS.summaryBytes / 1024} KiB of markdown`);
  const nowMs = ctx.now();
  const now = isoMs(nowMs);
  const run = ctx.writer.now((uow) => {
    const db = uow.db;
    const r = getAgentRun(db, agent.id, runId);
    if (finished(r)) throw conflict(`task run already ${r.status}`);
    const run = db
      .update(taskRuns)
      .set({ status, summary: summary ?? null, startedAt: r.startedAt ?? r.createdAt, finishedAt: now })
      .where(eq(taskRuns.id, r.id))
      .returning()
      .get()!;
    announcementSeen(db, r);
    db.delete(runContext).where(eq(runContext.runId, r.id)).run();
    const task = db.update(tasks).set({ lastRunStatus: status }).where(eq(tasks.id, r.taskId)).returning().get()!;
    if (agent.type === "interactive") {
      const conversation = resolveConversation(uow, agent, null, now);
      insertMessage(uow, { agentId: agent.id, conversationId: conversation.id, role: "task", text: summary ?? "", reportTitle: task.name, taskRunId: r.id }, now);
    }
    runChanged(uow, run);
    taskChanged(uow, ctx, task);
    recordActivity(uow, agent.id, "system", `${task.name}: run ${status}`, null, r.id, { refId: r.id, outcome: status });
    if (status === "failed") notifyPeople(uow, { kind: "run_failed", run, taskName: task.name });
    return run;
  });
  ctx.metrics.inc("nod_task_runs_finished_total", "Task runs finished, by status", { status });
  return { status, run_id: run.id };
}

// ---- the context scratchpad ----

export function addContext(ctx: Ctx, agent: Agent, runId: string, text: string): Static<typeof ContextAdded> {
  if (Buffer.byteLength(text, "utf8") > TASK_LIMITS.contextBytes) throw tooLarge(`text: at most ${TASK_LIMITS.contextBytes / 1024} KiB per block`);
  const now = isoMs(ctx.now());
  const blockId = ctx.writer.now(({ db }) => {
    const r = getAgentRun(db, agent.id, runId);
    if (finished(r)) throw conflict(`task run already ${r.status}: its context was cleared`);
    const last = db
      .select({ max: sql<number | null>`max(${runContext.blockId})` })
      .from(runContext)
      .where(eq(runContext.runId, r.id))
      .get();
    const blockId = (last?.max ?? 0) + 1;
    db.insert(runContext).values({ runId: r.id, blockId, text, createdAt: now }).run();
    return blockId;
  });
  return { status: "ok", block_id: blockId };
}

export function getContext(ctx: Ctx, agent: Agent, runId: string): Static<typeof RunContext> {
  const r = getAgentRun(ctx.db, agent.id, runId);
  const blocks = ctx.db.select().from(runContext).where(eq(runContext.runId, r.id)).orderBy(asc(runContext.blockId)).all();
  return { run_id: r.id, blocks: blocks.map((b) => ({ id: b.blockId, text: b.text, created_at: toApiTime(b.createdAt) })) };
}

// ---- the timeout ----

/**
 * Runs failed per transaction. The sweep finds them through task_runs_open (open
 * runs by due time: nothing is read when none is stale) and yields to the event
 * loop between batches, so a backlog of thousands never holds up requests.
 */
export const STALE_BATCH = 50;

const staleStmts = (db: Db) =>
  prepared(db, "tasks.stale", (db) => ({
    // The partial index's own condition (status IN ('due', 'running')), so SQLite uses it.
    due: db.$client.prepare<{ id: string }, [string, number]>(
      "SELECT id FROM task_runs WHERE status IN ('due', 'running') AND created_at < ? ORDER BY created_at LIMIT ?",
    ),
    fail: db
      .update(taskRuns)
      .set({ status: "failed", summary: sql`${sql.placeholder("summary")}`, finishedAt: sql`${sql.placeholder("now")}` })
      .where(and(eq(taskRuns.id, sql.placeholder("id")), inArray(taskRuns.status, ["due", "running"])))
      .returning()
      .prepare(),
    clearContext: db.$client.prepare<unknown, [string]>("DELETE FROM run_context WHERE run_id = ?"),
    dropAnnouncement: db.$client.prepare<unknown, [string]>("DELETE FROM outbox WHERE id = ? AND status != 'delivered'"),
    taskFailed: db.update(tasks).set({ lastRunStatus: "failed" }).where(eq(tasks.id, sql.placeholder("id"))).returning().prepare(),
  }));

/** Fails runs not completed within config.runTimeoutMs of becoming due, at most `limit`. Returns how many were found. */
export function failStaleRuns(ctx: Ctx, nowMs: number, limit = STALE_BATCH): number {
  const cutoff = isoMs(nowMs - ctx.config.runTimeoutMs);
  const now = isoMs(nowMs);
  const hours = Math.round((ctx.config.runTimeoutMs / 3_600_000) * 10) / 10;
  const summary = `Timed out: not completed within ${hours >= 1 ? `${hours} h` : `${Math.round(ctx.config.runTimeoutMs / 1000)} s`}.`;
  const q = staleStmts(ctx.db);
  const ids = q.due.all(cutoff, limit).map((r) => r.id);
  if (!ids.length) return 0;
  const done = ctx.writer.now((uow) => {
    let n = 0;
    for (const id of ids) {
      const run = q.fail.get({ id, summary, now });
      if (!run) continue;
      q.clearContext.run(run.id);
      // An announcement the agent never received is moot now.
      if (run.triggerEventId) q.dropAnnouncement.run(run.triggerEventId);
      const task = q.taskFailed.get({ id: run.taskId })!;
      runChanged(uow, run);
      taskChanged(uow, ctx, task);
      recordActivity(uow, run.agentId, "system", `${task.name}: run timed out`, summary, run.id, { refId: run.id, outcome: "failed" });
      notifyPeople(uow, { kind: "run_failed", run, taskName: task.name });
      n++;
    }
    return n;
  });
  if (done) {
    ctx.metrics.inc("nod_task_runs_finished_total", "Task runs finished, by status", { status: "timed_out" }, done);
    ctx.log.info("task runs timed out", { count: done });
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
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return { content_type: contentType || null, body: text };
    }
    checkJsonDepth(value); // the payload is stored and handed to the agent's parser as is
    return value;
  }
  return { content_type: contentType || null, body: text };
}

/** POST /webhook/:trigger_id — a due run of the event task and task_trigger to its agent. */
export function receiveTrigger(ctx: Ctx, triggerId: string, payload: () => unknown): Static<typeof TriggerAccepted> {
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
  const run = ctx.writer.now((uow) => insertRun(uow, t, "event", nowMs, body));
  ctx.metrics.inc("nod_task_runs_created_total", "Task runs created, by trigger", { trigger: "event" });
  return { status: "accepted", run_id: run.id };
}

