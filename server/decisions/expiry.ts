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
import { and, eq, lte, sql } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import type { Db } from "../db/index.ts";
import { decisions } from "../db/tables.ts";
import { first, indexedBy, rawRows } from "../db/rows.ts";
import { isoMs } from "../lib/time.ts";
import { recordActivity } from "../activity/service.ts";
import { resolvedEvent, settle, type Decision } from "./service.ts";
import { DueLoop, yieldToLoop } from "../lib/due-loop.ts";

const BATCH = 500; // requests expired per transaction
const MAX_SLEEP_MS = 60_000; // the clock may jump: look again at least this often

// The literal status = 'pending' lets SQLite use the partial index decisions_expiry; named,
// because without statistics SQLite would take decisions_status and sort every pending request.
const due = (db: Db, now: string, limit: number) =>
  rawRows<{ id: string }>(
    db,
    sql`SELECT id FROM decisions ${indexedBy("decisions_expiry")} WHERE status = 'pending' AND expires_at IS NOT NULL AND expires_at <= ${now} ORDER BY expires_at LIMIT ${limit}`,
  );
const next = async (db: Db) =>
  first(
    await rawRows<{ next: string | null }>(
      db,
      sql`SELECT min(expires_at) AS next FROM decisions ${indexedBy("decisions_expiry")} WHERE status = 'pending' AND expires_at IS NOT NULL`,
    ),
  )?.next ?? null;
/** Claims one expiry: only a request that is still pending and due changes (and is returned). */
const claim = async (db: Db, id: string, now: string): Promise<Decision | undefined> =>
  first(
    await db
      .update(decisions)
      .set({ status: "expired", resolvedAt: now })
      .where(and(eq(decisions.id, id), eq(decisions.status, "pending"), lte(decisions.expiresAt, now)))
      .returning(),
  );

/** Expires up to BATCH requests due at nowMs in one transaction; returns how many were due. */
export async function expireDue(ctx: Ctx, nowMs: number): Promise<number> {
  const now = isoMs(nowMs);
  const dueIds = await due(ctx.db, now, BATCH);
  if (!dueIds.length) return 0;
  const expired = await ctx.writer.now(async (uow) => {
    let n = 0;
    for (const { id } of dueIds) {
      const d = await claim(uow.db, id, now);
      if (!d) continue; // answered or withdrawn meanwhile
      await settle(uow, d);
      await recordActivity(uow, d.agentId, "decision_resolved", `Expired unanswered: ${d.title}`, null, d.taskRunId, { refId: d.id, outcome: "expired" });
      await uow.toAgent(d.agentId, "decision_resolved", resolvedEvent(d));
      n++;
    }
    return n;
  });
  if (expired) ctx.metrics.inc("nod_decisions_expired_total", "Requests that expired unanswered", {}, expired);
  return dueIds.length;
}

export class DecisionExpiry extends DueLoop {
  constructor(private ctx: Ctx) {
    super(ctx.now, MAX_SLEEP_MS, ctx.log, "expiring requests");
  }

  protected async pass() {
    while (!this.stopped && (await expireDue(this.ctx, this.ctx.now())) === BATCH) await yieldToLoop();
  }

  protected async nextDue() {
    const at = await next(this.ctx.db);
    return at ? Date.parse(at) : null;
  }
}
