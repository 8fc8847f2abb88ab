// The scheduler. `tasks.next_run_at` in the database is the truth: one timer
// sleeps until the earliest next_run_at of an enabled task (re-armed whenever
// tasks change, and at least every 30 s), then fires every task that is due.
//
// Firing one task is one transaction: claim it by moving next_run_at to the
// next slot after now — a conditional UPDATE … WHERE next_run_at = <the value
// read>, so two racing ticks can never both fire the same slot — create the
// run (status "due", trigger "schedule") and write task_due to the outbox.
// The commit's effects wake the dispatcher. Because the next slot is computed
// from now, a task whose time passed while the server was down fires once,
// not once per missed slot.
//
// With several instances on one PostgreSQL database every one runs this loop.
// The claim alone keeps each slot to one run under READ COMMITTED (a second
// UPDATE waits for the first's row and then finds the slot gone), but
// instances reading the same due tasks would queue on the same rows and
// mostly fail their claims. So there the due tasks are read inside the
// claiming transaction with FOR UPDATE SKIP LOCKED: each instance takes
// tasks no other one holds (dueLocked).
//
// Time comes from ctx.now(), so tests move a fake clock and call tick().
import { and, asc, eq, isNotNull, lte, sql } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import type { Db } from "../db/index.ts";
import { prepared } from "../db/prepared.ts";
import { first } from "../db/rows.ts";
import { dialect, tasks } from "../db/tables.ts";
import { asPg } from "../db/pg-writer.ts";
import { isoMs } from "../lib/time.ts";
import { nextSlot } from "./schedule.ts";
import { DueLoop, yieldToLoop } from "../lib/due-loop.ts";
import { taskChanged, type Task } from "./service.ts";
import { insertRun } from "./run-create.ts";
import { failStaleRuns, STALE_BATCH } from "./run-timeout.ts";

export interface SchedulerOptions {
  batch: number; // tasks fired per transaction
  maxSleepMs: number; // the longest the timer sleeps (also the timeout sweep's period)
}

/** How often runs past the timeout are looked for (the timer wakes at least every maxSleepMs). */
const SWEEP_EVERY_MS = 10_000;

// Prepared once per database: a burst fires a thousand batches, and every change to a task re-arms the timer.
const stmts = (db: Db) =>
  prepared(db, "scheduler", (db) => ({
    due: db
      .select()
      .from(tasks)
      .where(and(eq(tasks.enabled, true), isNotNull(tasks.nextRunAt), lte(tasks.nextRunAt, sql.placeholder("now"))))
      .orderBy(asc(tasks.nextRunAt))
      .limit(sql.placeholder("limit"))
      .prepare(),
    // The claim: the slot read is still the task's, or someone else fired or changed it (no row back).
    claim: db
      .update(tasks)
      .set({ nextRunAt: sql`${sql.placeholder("next")}`, updatedAt: sql`${sql.placeholder("now")}` })
      .where(and(eq(tasks.id, sql.placeholder("id")), eq(tasks.enabled, true), eq(tasks.nextRunAt, sql.placeholder("slot"))))
      .returning({ id: tasks.id })
      .prepare(),
    earliest: db
      .select({ next: sql<string | null>`min(${tasks.nextRunAt})` })
      .from(tasks)
      .where(and(eq(tasks.enabled, true), isNotNull(tasks.nextRunAt)))
      .prepare(),
  }));

export class TaskScheduler extends DueLoop {
  private lastSweep = -Infinity;
  /** Called after each committed batch with each run's lateness in ms (commit time − slot). */
  observe: ((latenessMs: number[]) => void) | null = null;
  readonly stats = { fired: 0, ticks: 0, busyMs: 0, lastLatenessMs: 0, maxLatenessMs: 0 };
  private readonly opts: SchedulerOptions;

  constructor(
    private ctx: Ctx,
    opts: Partial<SchedulerOptions> = {},
  ) {
    const o = { batch: 500, maxSleepMs: 30_000, ...opts };
    super(ctx.now, o.maxSleepMs, ctx.log, "the scheduler");
    this.opts = o;
    const m = ctx.metrics;
    m.gauge("nod_scheduler_last_lateness_seconds", "How late the scheduler's last run was created after its slot", () => this.stats.lastLatenessMs / 1000);
    m.gauge("nod_scheduler_max_lateness_seconds", "The latest a scheduled run has been created after its slot since start", () => this.stats.maxLatenessMs / 1000);
    m.gauge("nod_scheduler_busy_seconds", "CPU-bound time the scheduler has spent firing tasks since start", () => this.stats.busyMs / 1000);
  }

  /** Fires every task due now (in batches), and fails runs past their timeout every SWEEP_EVERY_MS. */
  protected async pass() {
    this.stats.ticks++;
    while (!this.stopped && (await this.fireBatch()) === this.opts.batch) await yieldToLoop();
    const now = this.ctx.now();
    if (now - this.lastSweep >= SWEEP_EVERY_MS) {
      this.lastSweep = now;
      while (!this.stopped && (await failStaleRuns(this.ctx, now)) === STALE_BATCH) await yieldToLoop();
    }
  }

  /** The earliest next_run_at of an enabled task. */
  protected async nextDue() {
    const row = first(await stmts(this.ctx.db).earliest.execute());
    return row?.next ? Date.parse(row.next) : null;
  }

  /** One transaction: claims and fires up to `batch` due tasks. Returns how many were due. */
  private async fireBatch(): Promise<number> {
    let t0 = performance.now();
    const ctx = this.ctx;
    const db = ctx.db;
    const nowMs = ctx.now();
    const now = isoMs(nowMs);
    const q = stmts(db);
    // On PostgreSQL they are read (and locked) inside the unit below.
    const read = dialect === "pg" ? null : await q.due.execute({ now, limit: this.opts.batch });
    if (read && !read.length) return 0;
    const nextCache = new Map<string, number | null>();
    const slots: number[] = [];
    let found = 0;
    // busyMs counts the scheduler's own work: the wait for the writer's next batch is left out.
    this.stats.busyMs += performance.now() - t0;
    await ctx.writer.now(async (uow) => {
      t0 = performance.now();
      const due = read ?? (await dueLocked(uow.db, now, this.opts.batch));
      found = due.length;
      const claim = stmts(uow.db).claim; // the writer's connection: ctx.db only reads
      for (const t of due) {
        let next: number | null = null;
        if (t.triggerType === "scheduled") {
          const key = t.timezone + "\u0000" + t.schedule;
          if (nextCache.has(key)) next = nextCache.get(key)!;
          else {
            try {
              next = nextSlot(t.schedule, t.timezone, nowMs);
            } catch (e) {
              ctx.log.error("task has a schedule nod cannot read; it is not scheduled again", { task: t.id, schedule: t.schedule, error: e as Error });
            }
            nextCache.set(key, next);
          }
        }
        const nextIso = next === null ? null : isoMs(next);
        if ((await claim.execute({ next: nextIso, now, id: t.id, slot: t.nextRunAt! })).length !== 1) continue; // someone else fired or changed it
        await insertRun(uow, t, "schedule", nowMs);
        taskChanged(uow, ctx, { ...t, nextRunAt: nextIso, updatedAt: now } satisfies Task);
        slots.push(Date.parse(t.nextRunAt!));
      }
    });
    const committed = ctx.now();
    const lateness = slots.map((slot) => Math.max(0, committed - slot));
    if (lateness.length) {
      const s = this.stats;
      s.fired += lateness.length;
      s.lastLatenessMs = lateness[lateness.length - 1]!;
      for (const l of lateness) if (l > s.maxLatenessMs) s.maxLatenessMs = l;
      ctx.metrics.inc("nod_task_runs_created_total", "Task runs created, by trigger", { trigger: "schedule" }, lateness.length);
      ctx.metrics.inc("nod_scheduler_lateness_seconds_sum", "Sum of how late scheduled runs were created after their slot", {}, lateness.reduce((a, b) => a + b, 0) / 1000);
      this.observe?.(lateness);
    }
    this.stats.busyMs += performance.now() - t0;
    return found;
  }
}

/** PostgreSQL: due tasks no other transaction holds, locked until this one commits. */
async function dueLocked(db: Db, now: string, limit: number): Promise<Task[]> {
  const rows = await asPg(db)
    .select()
    .from(tasks as never)
    .where(and(eq(tasks.enabled, true), isNotNull(tasks.nextRunAt), lte(tasks.nextRunAt, now)))
    .orderBy(asc(tasks.nextRunAt))
    .limit(limit)
    .for("update", { skipLocked: true });
  return rows as unknown as Task[];
}
