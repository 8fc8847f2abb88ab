// Drains the push queue: each due row is encrypted for its device (aes128gcm)
// and signed (VAPID) by web-push, then POSTed to the push service with fetch.
//
//   2xx        done (a request's row stays as "sent": its answer goes to this device later)
//   404 / 410  the browser dropped the subscription: it is deleted, queue rows with it
//   429 / 5xx, timeout, no connection
//              tried again after base, 4·base, 16·base … (at most an hour apart,
//              Retry-After honoured) until MAX_ATTEMPTS or the push's TTL runs out
//   other 4xx  given up at once (logged; the device shows the error in Settings)
//
// Due times live in the database (next_attempt_at), so retries survive a
// restart; one timer wakes the sender for the next one. A row taken for an
// attempt is leased (its due time moved past the attempt's timeout, only if it
// is still due: several instances on one PostgreSQL database take each once),
// so it is never sent twice at once, and a crash only delays it by the lease.
// At most pushMaxInFlight POSTs are out at once, and at most pushMaxPerOrigin
// to one push service, so a hung push service holds up nobody else.
import { and, asc, eq, gt, lte, or, sql } from "drizzle-orm";
import webpush from "web-push";
import type { Ctx } from "../context.ts";
import type { Db } from "../db/index.ts";
import { pushQueue, pushSubscriptions } from "../db/tables.ts";
import { first } from "../db/rows.ts";
import type { UnitOfWork } from "../db/unit-of-work.ts";
import { isoMs } from "../lib/time.ts";
import { privateDestination } from "../lib/private-address.ts";
import { VapidSigner, vapidKeys, vapidSubject } from "./vapid.ts";

export const MAX_ATTEMPTS = 10;
const MAX_RETRY_MS = 3600_000;
/** How often the queue is looked at even when nothing is scheduled (rows queued by another process). */
const SAFETY_SCAN_MS = 10_000;

interface DueRow {
  id: number;
  version: number;
  kind: string;
  payload: string;
  urgency: "very-low" | "low" | "normal" | "high";
  ttl: number;
  attempts: number;
  createdAt: string;
  subscriptionId: string;
  endpoint: string;
  p256dh: string;
  auth: string;
}

type Outcome =
  | { ok: true; status: number }
  | { ok: false; gone: true; status: number }
  | { ok: false; retry: boolean; error: string; retryAfterMs?: number }
  | { ok: false; stopped: true };

export class PushSender {
  private signer: VapidSigner | null = null;
  private inflight = new Map<number, Promise<void>>();
  private perOrigin = new Map<string, number>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = Infinity;
  private scheduled = false;
  /** The pass under way (passes read and lease rows, so they never overlap), and whether another was asked for meanwhile. */
  private pumping: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  private abort = new AbortController();

  constructor(private ctx: Ctx) {}

  get db(): Db {
    return this.ctx.db;
  }

  async start() {
    this.signer = new VapidSigner(await vapidKeys(this.ctx), vapidSubject(this.ctx.config));
    this.stopped = false;
    this.abort = new AbortController();
    this.pump(); // what a previous run left queued
  }

  async stop() {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
    this.abort.abort(); // interrupted attempts are not counted: their rows are due again at the next start
    await this.pumping;
    await Promise.all(Array.from(this.inflight, ([, done]) => done));
  }

  wake() {
    if (this.stopped || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  /** Runs a pass now, or once more after the one under way. */
  private pump() {
    if (this.stopped) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = (async () => {
      do {
        this.again = false;
        await this.pass();
      } while (this.again && !this.stopped);
    })().finally(() => (this.pumping = null));
  }

  /** Takes due rows, as many as the in-flight limits allow, and sends them; sets the timer for the next. */
  private async pass() {
    const { config } = this.ctx;
    const db = this.db;
    const nowMs = Date.now();
    const now = isoMs(nowMs);
    const due = and(eq(pushQueue.status, "pending"), lte(pushQueue.nextAttemptAt, now));
    try {
      let free = config.pushMaxInFlight - this.inflight.size;
      if (free > 0) {
        const origins = await db
          .select({ origin: pushQueue.origin })
          .from(pushQueue)
          .where(due)
          .groupBy(pushQueue.origin)
          .orderBy(sql`min(${pushQueue.nextAttemptAt})`);
        const lease = isoMs(nowMs + config.pushTimeoutMs + Math.min(5_000, config.pushTimeoutMs));
        for (const { origin } of origins) {
          const room = Math.min(free, config.pushMaxPerOrigin - (this.perOrigin.get(origin) ?? 0));
          if (room <= 0) continue;
          const rows = (
            await db
              .select({
                id: pushQueue.id,
                version: pushQueue.version,
                kind: pushQueue.kind,
                payload: pushQueue.payload,
                urgency: pushQueue.urgency,
                ttl: pushQueue.ttl,
                attempts: pushQueue.attempts,
                createdAt: pushQueue.createdAt,
                subscriptionId: pushSubscriptions.id,
                endpoint: pushSubscriptions.endpoint,
                p256dh: pushSubscriptions.p256dh,
                auth: pushSubscriptions.auth,
              })
              .from(pushQueue)
              .innerJoin(pushSubscriptions, eq(pushSubscriptions.id, pushQueue.subscriptionId))
              .where(and(due, eq(pushQueue.origin, origin)))
              .orderBy(asc(pushQueue.nextAttemptAt), asc(pushQueue.id))
              .limit(room + this.inflight.size)
          )
            .filter((r) => !this.inflight.has(r.id)) // a newer version of a row in flight waits for it
            .slice(0, room);
          if (!rows.length) continue;
          // The lease is conditional: only rows still due are taken. Another process (an instance
          // on the same PostgreSQL database) that leased one meanwhile moved its due time past now;
          // under READ COMMITTED this UPDATE waits for that one's row and then finds it not due.
          const taken = await this.write(async (w) =>
            w
              .update(pushQueue)
              .set({ nextAttemptAt: lease })
              .where(and(due, or(...rows.map((r) => and(eq(pushQueue.id, r.id), eq(pushQueue.version, r.version))))))
              .returning({ id: pushQueue.id }),
          );
          const mine = new Set(taken.map((t) => t.id));
          for (const r of rows) if (mine.has(r.id)) this.launch(origin, r);
          free -= mine.size;
          if (free <= 0) break;
        }
      }
      const next = first(
        await db
          .select({ at: sql<string | null>`min(${pushQueue.nextAttemptAt})` })
          .from(pushQueue)
          .where(and(eq(pushQueue.status, "pending"), gt(pushQueue.nextAttemptAt, now))),
      )?.at;
      this.schedule(Math.min(next ? Date.parse(next) : Infinity, nowMs + SAFETY_SCAN_MS));
    } catch (e) {
      if (this.stopped) return; // the database may be closing
      this.ctx.log.error("push queue scan failed", { error: e as Error });
      this.schedule(nowMs + SAFETY_SCAN_MS);
    }
  }

  private schedule(atMs: number) {
    if (this.stopped || atMs >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = atMs;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.pump();
    }, Math.max(0, atMs - Date.now()));
    this.timer.unref?.();
  }

  private launch(origin: string, row: DueRow) {
    this.perOrigin.set(origin, (this.perOrigin.get(origin) ?? 0) + 1);
    const done = this.attempt(row)
      .then((outcome) => this.record(row, outcome))
      .catch((e) => this.ctx.log.error("push failed", { subscription: row.subscriptionId, error: e as Error }))
      .finally(() => {
        this.inflight.delete(row.id);
        const n = (this.perOrigin.get(origin) ?? 1) - 1;
        if (n > 0) this.perOrigin.set(origin, n);
        else this.perOrigin.delete(origin);
        this.wake();
      });
    this.inflight.set(row.id, done);
  }

  /** One POST to the push service. */
  private async attempt(row: DueRow): Promise<Outcome> {
    if (this.ctx.config.webhookBlockPrivate) {
      // Checked when the device was added, and again here: the name may resolve elsewhere now.
      const blocked = await privateDestination(row.endpoint);
      if (blocked) return { ok: false, retry: false, error: blocked };
    }
    const origin = new URL(row.endpoint).origin;
    const details = webpush.generateRequestDetails({ endpoint: row.endpoint, keys: { p256dh: row.p256dh, auth: row.auth } }, row.payload, {
      TTL: row.ttl,
      urgency: row.urgency,
      headers: { Authorization: this.signer!.authorization(origin) },
    });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(details.headers)) if (k.toLowerCase() !== "content-length") headers[k] = String(v);
    const timeout = AbortSignal.timeout(this.ctx.config.pushTimeoutMs);
    let res: Response;
    try {
      res = await fetch(details.endpoint, {
        method: "POST",
        headers,
        body: details.body as Uint8Array<ArrayBuffer>,
        redirect: "manual",
        signal: AbortSignal.any([this.abort.signal, timeout]),
      });
    } catch (e) {
      if (this.abort.signal.aborted) return { ok: false, stopped: true };
      if (timeout.aborted) return { ok: false, retry: true, error: `timeout after ${this.ctx.config.pushTimeoutMs} ms` };
      return { ok: false, retry: true, error: `connection error: ${(e as Error).message}` };
    }
    const text = await res.text().catch(() => "");
    if (res.ok) return { ok: true, status: res.status };
    if (res.status === 404 || res.status === 410) return { ok: false, gone: true, status: res.status };
    const error = `http_${res.status}${text ? `: ${text.slice(0, 200)}` : ""}`;
    if (res.status === 429 || res.status >= 500) return { ok: false, retry: true, error, retryAfterMs: retryAfter(res.headers.get("retry-after")) };
    return { ok: false, retry: false, error };
  }

  /** Writes on the writer's connection, in one unit of work (ctx.db only reads). */
  private write<T>(fn: (db: UnitOfWork["db"]) => Promise<T>): Promise<T> {
    return this.ctx.writer.now(async (uow) => fn(uow.db));
  }

  private async record(row: DueRow, outcome: Outcome) {
    const { log, metrics } = this.ctx;
    const nowMs = Date.now();
    const now = isoMs(nowMs);
    const count = (result: string) => metrics.inc("nod_pushes_total", "Web Push attempts by outcome", { outcome: result });
    // Only the version taken changes: a newer notice under the same tag replaced the payload meanwhile and is sent on its own.
    const thisVersion = and(eq(pushQueue.id, row.id), eq(pushQueue.version, row.version));
    const subscription = eq(pushSubscriptions.id, row.subscriptionId);
    if ("stopped" in outcome) {
      // Not an attempt: due again as soon as a sender runs (unless a newer version already is).
      await this.write(async (db) => void (await db.update(pushQueue).set({ nextAttemptAt: now }).where(thisVersion)));
      return;
    }
    if (this.stopped) return; // the database may be closing: the lease brings it back after a restart
    if (outcome.ok) {
      count("sent");
      await this.write(async (db) => {
        // A request's row stays as its "sent" marker, dated by next_attempt_at (retention forgets it later: ops/retention.ts).
        if (row.kind === "request")
          await db
            .update(pushQueue)
            .set({ status: "sent", attempts: sql`${pushQueue.attempts} + 1`, lastError: null, nextAttemptAt: now })
            .where(thisVersion);
        else await db.delete(pushQueue).where(thisVersion);
        await db.update(pushSubscriptions).set({ lastSuccessAt: now, lastError: null }).where(subscription);
      });
      log.debug("push sent", { subscription: row.subscriptionId, kind: row.kind, status: outcome.status });
      return;
    }
    if ("gone" in outcome) {
      count("gone");
      await this.write(async (db) => void (await db.delete(pushSubscriptions).where(subscription)));
      log.info("push subscription gone: removed", { subscription: row.subscriptionId, status: outcome.status });
      return;
    }
    const attempts = row.attempts + 1;
    const expired = nowMs - Date.parse(row.createdAt) > row.ttl * 1000;
    if (!outcome.retry || attempts >= MAX_ATTEMPTS || expired) {
      count(outcome.retry ? "given_up" : "refused");
      await this.write(async (db) => {
        await db.delete(pushQueue).where(thisVersion);
        await db.update(pushSubscriptions).set({ lastError: outcome.error }).where(subscription);
      });
      log.warn("push given up", { subscription: row.subscriptionId, kind: row.kind, attempts, error: outcome.error });
      return;
    }
    count("retry");
    const wait = Math.min(MAX_RETRY_MS, Math.max(this.ctx.config.pushRetryBaseMs * 4 ** (attempts - 1), outcome.retryAfterMs ?? 0));
    await this.write(async (db) => {
      await db.update(pushQueue).set({ attempts, nextAttemptAt: isoMs(nowMs + wait), lastError: outcome.error }).where(thisVersion);
      await db.update(pushSubscriptions).set({ lastError: outcome.error }).where(subscription);
    });
    log.info("push failed, will retry", { subscription: row.subscriptionId, attempt: attempts, error: outcome.error, retry_in_ms: wait });
    this.schedule(nowMs + wait);
  }
}

/** Retry-After in ms: seconds or an HTTP date; undefined when absent or unreadable. */
function retryAfter(h: string | null): number | undefined {
  if (!h) return undefined;
  if (/^\d+$/.test(h.trim())) return Number(h) * 1000;
  const at = Date.parse(h);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
