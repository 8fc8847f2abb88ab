// Retention: what nod deletes so the database does not grow forever.
//
//   delivered outbox events  older than --keep-deliveries (by delivery time, default 7 days)
//   finished task runs       older than --keep-runs (by finish time, default 90 days; their context blocks go with them)
//   activity entries         older than --keep-activity (default 90 days)
//   messages                 older than --keep-messages (default 0: kept forever; their images go with
//                            them, and unread ones leave their conversation's unread count)
//   sessions                 once expired (a session past its expiry is refused anyway)
//   push markers             a request's "sent" row in push_queue, PUSH_MARKERS_KEPT_MS after it was
//                            sent (it only routes the request's answer to the devices told of it)
//
// Never deleted: events not yet delivered (pending or undelivered), runs not
// finished, requests, conversations, tasks. A message, an activity entry or a
// request keeps the task_run_id of a run that is gone: GET /api/tasks/runs/{id}
// then answers 404, like any run that does not exist.
//
// Pruning runs shortly after start and then every hour, in batches of
// PRUNE_BATCH rows per transaction, yielding to the event loop between
// batches, so requests keep being served while a backlog is cleared. Each
// batch finds its rows through an index: outbox(status, delivered_at),
// task_runs(finished_at), sessions(expires_at), push_queue(status,
// next_attempt_at), and the time-ordered primary keys of activity and
// messages (an id starts with its creation time, lib/ids.ts).
import { sql } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import type { Db } from "../db/index.ts";
import { rawRows } from "../db/rows.ts";
import { isoMs } from "../lib/time.ts";
import { MEDIA_NAME_RE, mediaStore } from "../media/store.ts";

export const PRUNE_BATCH = 500;
export const RETENTION = { firstAfterMs: 60_000, everyMs: 3_600_000 };

/** How long a request's "sent" marker is kept (its answer then goes unannounced to that device). */
export const PUSH_MARKERS_KEPT_MS = 30 * 86_400_000;

export type Pruned = { outbox: number; task_runs: number; activity: number; messages: number; sessions: number; push_queue: number };

/** The smallest id made at ms or later, for a prefix (lib/ids.ts: prefix + 12 hex digits of ms + …). */
export const idAt = (prefix: string, ms: number) => prefix + Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0");

// Each DELETE takes at most `limit` rows, picked through an index, and returns
// them to be counted. The same SQL on SQLite and PostgreSQL (rawRows runs it
// on either): not a hot path, an hourly pass of a few statements per 500 rows.
const DELETE = {
  outbox: (before: string, limit: number) =>
    sql`DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE status = 'delivered' AND delivered_at < ${before} LIMIT ${limit}) RETURNING 1`,
  task_runs: (before: string, limit: number) =>
    sql`DELETE FROM task_runs WHERE id IN (SELECT id FROM task_runs WHERE finished_at < ${before} AND status IN ('completed', 'failed') LIMIT ${limit}) RETURNING 1`,
  activity: (before: string, limit: number) => sql`DELETE FROM activity WHERE id IN (SELECT id FROM activity WHERE id < ${before} ORDER BY id LIMIT ${limit}) RETURNING 1`,
  sessions: (before: string, limit: number) =>
    sql`DELETE FROM sessions WHERE token_hash IN (SELECT token_hash FROM sessions WHERE expires_at < ${before} LIMIT ${limit}) RETURNING 1`,
  // A sent marker's next_attempt_at is when it was sent (push/sender.ts).
  push_queue: (before: string, limit: number) =>
    sql`DELETE FROM push_queue WHERE id IN (SELECT id FROM push_queue WHERE status = 'sent' AND next_attempt_at < ${before} LIMIT ${limit}) RETURNING 1`,
};
const MESSAGES = {
  pick: (before: string, limit: number) =>
    sql`SELECT id, image_url AS "imageUrl", conversation_id AS "conversationId", role FROM messages WHERE id < ${before} ORDER BY id LIMIT ${limit}`,
  // an array becomes a parenthesized list of parameters (at most PRUNE_BATCH)
  delete: (ids: string[]) => sql`DELETE FROM messages WHERE id IN ${ids}`,
  unreadOf: (id: string) => sql`SELECT unread, unread_since AS since FROM conversations WHERE id = ${id}`,
  unreadLess: (id: string, n: number) =>
    sql`UPDATE conversations SET unread = CASE WHEN unread > ${n} THEN unread - ${n} ELSE 0 END, unread_since = CASE WHEN unread > ${n} THEN unread_since END WHERE id = ${id}`,
};

type PickedMessage = { id: string; imageUrl: string | null; conversationId: string; role: string };

/**
 * Deletes the picked messages and lowers their conversations' unread counts by
 * the unread ones among them: the agent and task messages from the
 * conversation's first unread one (unread_since) on. Same transaction.
 */
async function deleteMessages(db: Db, rows: PickedMessage[]) {
  const convs = new Map<string, { unread: number; since: string | null } | undefined>();
  const gone = new Map<string, number>();
  for (const m of rows) {
    if (m.role === "user") continue;
    if (!convs.has(m.conversationId)) convs.set(m.conversationId, (await rawRows<{ unread: number; since: string | null }>(db, MESSAGES.unreadOf(m.conversationId)))[0]);
    const c = convs.get(m.conversationId);
    if (c && c.unread > 0 && c.since !== null && m.id >= c.since) gone.set(m.conversationId, (gone.get(m.conversationId) ?? 0) + 1);
  }
  await rawRows(db, MESSAGES.delete(rows.map((r) => r.id)));
  for (const [conversationId, n] of gone) await rawRows(db, MESSAGES.unreadLess(conversationId, n));
}

/** How many rows a DELETE … RETURNING deleted. */
const count = async (db: Db, q: ReturnType<typeof sql>) => (await rawRows(db, q)).length;

/** Deletes one batch of a table's rows older than the cutoff; returns how many (and the images of deleted messages). */
export function pruneBatch(ctx: Ctx, table: keyof Pruned, cutoffMs: number, limit = PRUNE_BATCH): Promise<{ n: number; images: string[] }> {
  return ctx.writer.now(async (uow) => {
    const db = uow.db;
    switch (table) {
      case "outbox":
      case "task_runs":
      case "sessions":
      case "push_queue":
        return { n: await count(db, DELETE[table](isoMs(cutoffMs), limit)), images: [] };
      case "activity":
        return { n: await count(db, DELETE.activity(idAt("act_", cutoffMs), limit)), images: [] };
      case "messages": {
        const rows = await rawRows<PickedMessage>(db, MESSAGES.pick(idAt("msg_", cutoffMs), limit));
        if (!rows.length) return { n: 0, images: [] };
        await deleteMessages(db, rows);
        return { n: rows.length, images: rows.flatMap((r) => (r.imageUrl ? [r.imageUrl] : [])) };
      }
    }
  });
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export class Retention {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<Pruned> | null = null;
  private stopped = true; // the timer is off
  private closing = false; // stop() was called: a pass in progress ends after its batch

  constructor(private ctx: Ctx) {}

  /** Up to when each kind of row goes (rows older than this), in ms; a kind kept forever is left out. */
  private cutoffs(now: number): Partial<Record<keyof Pruned, number>> {
    const c = this.ctx.config;
    const older = (ms: number) => (ms > 0 ? now - ms : undefined);
    return {
      outbox: older(c.keepDeliveriesMs),
      task_runs: older(c.keepRunsMs),
      activity: older(c.keepActivityMs),
      messages: older(c.keepMessagesMs),
      sessions: now, // expired
      push_queue: now - PUSH_MARKERS_KEPT_MS,
    };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.closing = false;
    this.arm(RETENTION.firstAfterMs); // expired sessions and old push markers go even when everything else is kept
  }

  async stop() {
    this.stopped = true;
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => {});
  }

  private arm(ms: number) {
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run()
        .catch((e) => this.ctx.log.error("pruning old rows failed", { error: e as Error }))
        .finally(() => {
          if (!this.stopped) this.arm(RETENTION.everyMs);
        });
    }, ms);
    this.timer.unref?.();
  }

  /** One pass over every table (tests call it directly); a pass already running is joined. */
  run(): Promise<Pruned> {
    this.running ??= this.pass().finally(() => (this.running = null));
    return this.running;
  }

  private async pass(): Promise<Pruned> {
    const { ctx } = this;
    const now = ctx.now();
    const pruned: Pruned = { outbox: 0, task_runs: 0, activity: 0, messages: 0, sessions: 0, push_queue: 0 };
    for (const [table, cutoff] of Object.entries(this.cutoffs(now)) as [keyof Pruned, number | undefined][]) {
      if (cutoff === undefined) continue;
      for (;;) {
        if (this.closing) break;
        const batch = await pruneBatch(ctx, table, cutoff);
        pruned[table] += batch.n;
        await this.removeImages(batch.images);
        if (batch.n < PRUNE_BATCH) break;
        await yieldToLoop(); // requests and socket frames go first
      }
      if (pruned[table]) ctx.metrics.inc("nod_pruned_rows_total", "Rows deleted by retention (--keep-…)", { table }, pruned[table]);
    }
    if (Object.values(pruned).some((n) => n > 0)) ctx.log.info("pruned old rows", pruned);
    return pruned;
  }

  /**
   * Images of deleted messages, after their commit (a failed removal leaves an
   * image, never a broken link): files on SQLite, rows of the media table on
   * PostgreSQL (media/store.ts).
   */
  private async removeImages(urls: string[]) {
    const names = urls.map((url) => url.slice(url.lastIndexOf("/") + 1)).filter((name) => MEDIA_NAME_RE.test(name));
    await mediaStore(this.ctx)
      .remove(names)
      .catch((e) => this.ctx.log.warn("retention: images of deleted messages were kept", { error: e as Error, images: names.length }));
  }
}
