// Requests that expire (nod's addition): an agent's `expires_in` becomes
// `decisions.expires_at`, and a request still pending then is resolved with
// status "expired"; its agent gets decision_resolved like any other answer.
//
// The database is the truth, as for the scheduler (tasks/scheduler.ts): one
// timer sleeps until the earliest expires_at of a pending request (re-armed
// when a request with a due time is created: uow.expiryChanged(), and at
// least every minute), then expires every request that is due. At start it
// reads the database, so a request whose time passed while the server was
// down expires at once. Each expiry is claimed by a conditional
// UPDATE … WHERE status = 'pending', so a person's answer in the same instant,
// or a second loop, can never make it fire twice.
//
// Time comes from ctx.now(), so tests may move a fake clock and call tick().
import { and, eq, lte } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import type { Db } from "../db/index.ts";
import { prepared } from "../db/prepared.ts";
import { decisions } from "../db/tables.ts";
import { isoMs } from "../lib/time.ts";
import { recordActivity } from "../activity/service.ts";
import { resolvedEvent, settle, type Decision } from "./service.ts";
import { DueLoop, yieldToLoop } from "../lib/due-loop.ts";

const BATCH = 500; // requests expired per transaction
const MAX_SLEEP_MS = 60_000; // the clock may jump: look again at least this often

// The literal status = 'pending' lets SQLite use the partial index decisions_expiry.
const dueStmt = (db: Db) =>
  prepared(db, "expiry.due", (db) =>
    db.$client.prepare<{ id: string }, [string, number]>(
      // INDEXED BY: without statistics SQLite would take decisions_status and sort every pending request.
      "SELECT id FROM decisions INDEXED BY decisions_expiry WHERE status = 'pending' AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at LIMIT ?",
    ),
  );
const nextStmt = (db: Db) =>
  prepared(db, "expiry.next", (db) =>
    db.$client.prepare<{ next: string | null }, []>("SELECT min(expires_at) AS next FROM decisions INDEXED BY decisions_expiry WHERE status = 'pending' AND expires_at IS NOT NULL"),
  );
/** Claims one expiry: only a request that is still pending and due changes (and is returned). */
const claim = (db: Db, id: string, now: string): Decision | undefined =>
  db
    .update(decisions)
    .set({ status: "expired", resolvedAt: now })
    .where(and(eq(decisions.id, id), eq(decisions.status, "pending"), lte(decisions.expiresAt, now)))
    .returning()
    .get();

/** Expires up to BATCH requests due at nowMs in one transaction; returns how many were due. */
export function expireDue(ctx: Ctx, nowMs: number): number {
  const now = isoMs(nowMs);
  const due = dueStmt(ctx.db).all(now, BATCH);
  if (!due.length) return 0;
  let expired = 0;
  ctx.writer.now((uow) => {
    for (const { id } of due) {
      const d = claim(uow.db, id, now);
      if (!d) continue; // answered or withdrawn meanwhile
      settle(uow, d);
      recordActivity(uow, d.agentId, "decision_resolved", `Expired unanswered: ${d.title}`, null, d.taskRunId, { refId: d.id, outcome: "expired" });
      uow.toAgent(d.agentId, "decision_resolved", resolvedEvent(d));
      expired++;
    }
  });
  if (expired) ctx.metrics.inc("nod_decisions_expired_total", "Requests that expired unanswered", {}, expired);
  return due.length;
}

export class DecisionExpiry extends DueLoop {
  constructor(private ctx: Ctx) {
    super(ctx.now, MAX_SLEEP_MS, ctx.log, "expiring requests");
  }

  protected async pass() {
    while (!this.stopped && expireDue(this.ctx, this.ctx.now()) === BATCH) await yieldToLoop();
  }

  protected nextDue() {
    const next = nextStmt(this.ctx.db).get()?.next;
    return next ? Date.parse(next) : null;
  }
}
