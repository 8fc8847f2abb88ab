// Effects between nod instances on one PostgreSQL database. Each instance
// releases a batch's effects to its own sockets and loops after the COMMIT
// (unit-of-work.ts); the other instances hear of them through a
// notification on the channel nod_effects, sent inside the batch's own
// transaction: PostgreSQL delivers it at the COMMIT, never for a rollback,
// and in commit order.
//
// A notification's payload holds at most 8,000 bytes. Effects that fit go
// whole ({"from":"ins_…","e":{…}}); a batch's frames that do not are spread
// over several notifications, in order (envelopes); what still does not fit
// (one long message) is written to a row of `effects` in the same transaction
// and the payload names it ({"from":"ins_…","row":123}); receivers read it.
// Rows are pruned after a few minutes (prune). Receivers skip what they sent
// themselves, and apply what they hear one notification after the other, in
// order.
//
// A missed notification loses no event: the outbox and the push queue are the
// truth, and the loops look at them again (the retry timer, the sockets' next
// round); after the LISTEN connection was lost and came back, `onResync` runs.
import { eq, lt, sql } from "drizzle-orm";
import type { SQL } from "bun";
import type { Db } from "./index.ts";
import { asPg } from "./pg-writer.ts";
import { send, sendSql } from "./prepared.ts";
import { effects as effectRows } from "./schema-cluster.ts";
import { emptyEffects, type Effects, type InboxFrame } from "./unit-of-work.ts";

export const CHANNEL = "nod_effects";
const NOTIFY = "SELECT pg_notify($1, $2)";
/** PostgreSQL refuses payloads of 8,000 bytes and more; the envelope's own bytes fit in the rest. */
export const MAX_INLINE_BYTES = 7_900;
/** How long a row of `effects` is kept for receivers that are slow to read it. */
export const KEEP_ROWS_MS = 5 * 60_000;

/** Effects as they travel: JSON, only what is set, sets as arrays. */
export interface SharedEffects {
  inbox?: InboxFrame[];
  deliver?: string[];
  redeliver?: string[];
  settled?: string[];
  closeAgents?: Effects["closeAgents"];
  closeSessions?: string[]; // token hashes
  tasks?: 1;
  expiry?: 1;
  push?: 1;
  forget?: Effects["forget"];
  sockets?: Effects["sockets"];
}

type Envelope = { from: string; e: SharedEffects } | { from: string; row: number };

/** What of e other instances need; null when nothing. */
export function encodeEffects(e: Effects): SharedEffects | null {
  const s: SharedEffects = {};
  if (e.inbox.length) s.inbox = e.inbox;
  if (e.deliver.size) s.deliver = [...e.deliver];
  if (e.redeliver.size) s.redeliver = [...e.redeliver];
  if (e.settled.length) s.settled = e.settled;
  if (e.closeAgents.length) s.closeAgents = e.closeAgents;
  if (e.closeSessions.length) s.closeSessions = e.closeSessions;
  if (e.tasksChanged) s.tasks = 1;
  if (e.expiryChanged) s.expiry = 1;
  if (e.pushQueued) s.push = 1;
  if (e.forget.length) s.forget = e.forget;
  if (e.sockets.length) s.sockets = e.sockets;
  return Object.keys(s).length ? s : null;
}

export function decodeEffects(s: SharedEffects): Effects {
  const e = emptyEffects();
  e.inbox = s.inbox ?? [];
  e.deliver = new Set(s.deliver);
  e.redeliver = new Set(s.redeliver);
  e.settled = s.settled ?? [];
  e.closeAgents = s.closeAgents ?? [];
  e.closeSessions = s.closeSessions ?? [];
  e.tasksChanged = s.tasks === 1;
  e.expiryChanged = s.expiry === 1;
  e.pushQueued = s.push === 1;
  e.forget = s.forget ?? [];
  e.sockets = s.sockets ?? [];
  return e;
}

/**
 * The bodies of the notifications that carry shared, in order: one when it
 * fits; else its inbox frames spread over as many as they take, the rest of
 * the effects riding with the first (a batch of 16 short messages is about
 * 12 KB: as a row it cost an insert here and a read on every other instance).
 * A body still over the limit (one long message) is sent as a row.
 */
export function envelopes(from: string, shared: SharedEffects): string[] {
  const whole = JSON.stringify({ from, e: shared } satisfies Envelope);
  if (Buffer.byteLength(whole) <= MAX_INLINE_BYTES || !shared.inbox?.length) return [whole];
  const { inbox, ...rest } = shared;
  // The envelope up to its frames: …,"inbox":[ (inbox is the last key)
  const opening = (e: SharedEffects) => JSON.stringify({ from, e: { ...e, inbox: [] } } satisfies Envelope).slice(0, -3);
  const bodies: string[] = [];
  let head = opening(rest);
  let frames: string[] = [];
  let size = Buffer.byteLength(head) + 3;
  for (const frame of inbox) {
    const json = JSON.stringify(frame);
    const bytes = Buffer.byteLength(json) + 1;
    if (frames.length > 0 && size + bytes > MAX_INLINE_BYTES) {
      bodies.push(`${head}${frames.join(",")}]}}`);
      head = opening({});
      frames = [];
      size = Buffer.byteLength(head) + 3;
    }
    frames.push(json);
    size += bytes;
  }
  bodies.push(`${head}${frames.join(",")}]}}`);
  return bodies;
}

export class PgFanout {
  private pendingFrames: InboxFrame[] = [];
  private subscription: { unlisten(): Promise<void> } | null = null;
  /** From the LISTEN on (a notification may come before listen()'s promise has settled) until stop(). */
  private listening = false;
  /** Notifications are applied one after the other: a row read must not let a later one overtake it. */
  private chain: Promise<void> = Promise.resolve();
  /** Notifications sent, and those sent as a row (tests and /metrics look). */
  readonly stats = { sent: 0, rows: 0, received: 0 };

  constructor(
    private readonly db: Db,
    readonly instanceId: string,
    private readonly onError: (what: string, e: unknown) => void,
  ) {}

  /** Inside a batch's transaction, after its units: tells the others what it did (delivered at COMMIT). */
  async publish(db: Db, effects: Effects) {
    const shared = encodeEffects(effects);
    if (!shared) return;
    for (const body of envelopes(this.instanceId, shared)) {
      this.stats.sent++;
      if (Buffer.byteLength(body) <= MAX_INLINE_BYTES) {
        await sendSql(db, NOTIFY, [CHANNEL, body]); // raw SQL: no drizzle query built each batch
        continue;
      }
      this.stats.rows++;
      await send(
        db,
        asPg(db).execute(sql`WITH r AS (INSERT INTO ${effectRows} (instance_id, body, created_at) VALUES (${this.instanceId}, ${body}, now()) RETURNING id)
          SELECT pg_notify(${CHANNEL}, '{"from":' || to_json(${this.instanceId}::text)::text || ',"row":' || r.id || '}') FROM r`),
      );
    }
  }

  /**
   * A frame with no write behind it (presence, "Thinking…", delivery outcomes):
   * those announced in one turn of the event loop go together, on the pool.
   */
  announce(frame: InboxFrame) {
    this.pendingFrames.push(frame);
    if (this.pendingFrames.length > 1) return;
    setImmediate(() => {
      const e = emptyEffects();
      e.inbox = this.pendingFrames;
      this.pendingFrames = [];
      this.publish(this.db, e).catch((err) => this.onError("announcing to other instances failed", err));
    });
  }

  /**
   * Listens for the other instances' effects: apply gets each one's, in order.
   * onResync runs when the connection came back after a loss (what was sent
   * meanwhile is not heard).
   */
  async listen(apply: (e: Effects, from: string) => void | Promise<void>, onResync: () => void) {
    let first = true;
    this.listening = true;
    this.subscription = await asPg(this.db).$client.listen(
      CHANNEL,
      (payload) => this.received(payload, apply),
      () => {
        if (!first) onResync();
        first = false;
      },
    );
  }

  /** Runs fn between two notifications' effects (a reload of shared state must not overtake one heard before it). */
  serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  async stop() {
    const s = this.subscription;
    this.subscription = null;
    this.listening = false;
    await s?.unlisten().catch(() => {});
    await this.chain;
  }

  private received(payload: string, apply: (e: Effects, from: string) => void | Promise<void>) {
    let msg: Envelope;
    try {
      msg = JSON.parse(payload) as Envelope;
    } catch {
      return; // not nod's
    }
    if (msg.from === this.instanceId || !this.listening) return;
    this.stats.received++;
    this.chain = this.chain
      .then(async () => {
        const shared = "e" in msg ? msg.e : await this.readRow(msg.row);
        if (shared) await apply(decodeEffects(shared), msg.from);
      })
      .catch((e) => this.onError("effects from another instance failed", e));
  }

  private async readRow(id: number): Promise<SharedEffects | null> {
    const [row] = await asPg(this.db).select({ body: effectRows.body }).from(effectRows).where(eq(effectRows.id, id));
    if (!row) return null; // pruned: the loops' own scans bring what it held
    return (JSON.parse(row.body) as { e: SharedEffects }).e;
  }

  /** Deletes rows every instance has had time to read. */
  async prune() {
    await asPg(this.db)
      .delete(effectRows)
      .where(lt(effectRows.createdAt, sql`now() - ${`${KEEP_ROWS_MS} milliseconds`}::interval`));
  }
}
