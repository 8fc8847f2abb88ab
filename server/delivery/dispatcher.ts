// Drains the outbox to agents — the one delivery path for user_message,
// decision_resolved, task_due and task_trigger:
//
//   outbox row → push on the agent's newest authenticated WebSocket
//              → else POST to its webhook_url (3 attempts: now, +base, +4·base)
//              → else it waits (pending, or "undelivered" after the attempts ran
//                out) and goes over the socket at the agent's next auth.
//
// task_trigger never goes to a webhook: socket, or it stays pending for polling.
//
// Each agent has its own lane (at most one webhook POST in flight per agent,
// oldest event first); lanes never wait on each other, so one slow or dead
// webhook holds up nobody else. POSTs in flight over all agents are capped
// (slots.ts: below Bun's own fetch limit, and hung receivers give way).
// Retry times live in the database (next_attempt_at): one timer wakes the
// lanes whose next attempt is due, so retries queued before a restart resume
// after it.
import { and, asc, eq, inArray, lt, ne, sql } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import type { AgentSockets } from "../realtime/sockets.ts";
import type { Db } from "../db/index.ts";
import { agents, outbox } from "../db/schema.ts";
import type { AgentSocket } from "../realtime/sockets.ts";
import { prepared } from "../db/prepared.ts";
import { isoMs } from "../lib/time.ts";
import { attemptWebhook, retryReasonFrom } from "./webhook.ts";
import { PostSlots, SLOW_MS, type Standing } from "./slots.ts";

export const MAX_ATTEMPTS = 3;
/** Events read and pushed per round when replaying to a socket. */
const PUSH_BATCH = 200;
/** How often the due-retry scan runs even when no retry is scheduled (picks up a newly set webhook_url). */
const SAFETY_SCAN_MS = 10_000;

type Row = typeof outbox.$inferSelect;

interface Lane {
  running: boolean;
  again: boolean;
  done: Promise<void>;
}

const q = {
  // Everything the agent has not received yet, oldest first: replayed over a socket.
  undelivered: (db: Db) =>
    prepared(db, "outbox.undelivered", (db) =>
      db
        .select({ id: outbox.id, payload: outbox.payload, status: outbox.status, type: outbox.type, attempts: outbox.attempts })
        .from(outbox)
        .where(and(eq(outbox.agentId, sql.placeholder("agentId")), inArray(outbox.status, ["pending", "undelivered"])))
        .orderBy(asc(outbox.id))
        .limit(sql.placeholder("limit"))
        .prepare(),
    ),
  // The oldest event still waiting for a webhook attempt.
  webhookHead: (db: Db) =>
    prepared(db, "outbox.webhookHead", (db) =>
      db
        .select()
        .from(outbox)
        .where(and(eq(outbox.agentId, sql.placeholder("agentId")), eq(outbox.status, "pending"), ne(outbox.type, "task_trigger")))
        .orderBy(asc(outbox.id))
        .limit(1)
        .prepare(),
    ),
  agent: (db: Db) =>
    prepared(db, "outbox.agentWebhook", (db) =>
      db
        .select({ webhookUrl: agents.webhookUrl, webhookSecret: agents.webhookSecret })
        .from(agents)
        .where(eq(agents.id, sql.placeholder("id")))
        .prepare(),
    ),
  markSocket: (db: Db) =>
    prepared(db, "outbox.markSocket", (db) =>
      db
        .update(outbox)
        .set({ status: "delivered", deliveredVia: "websocket", deliveredAt: sql`${sql.placeholder("at")}`, nextAttemptAt: null })
        .where(and(eq(outbox.id, sql.placeholder("id")), ne(outbox.status, "delivered")))
        .prepare(),
    ),
};

export class OutboxDispatcher {
  private lanes = new Map<string, Lane>();
  private inflight = new Set<string>(); // event ids with a webhook POST under way
  private slots = new PostSlots(); // webhook POSTs in flight over all agents (slots.ts)
  private answeredLanes = new Map<string, boolean>(); // by agent: was its last webhook POST answered within SLOW_MS?
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = Infinity;
  private stopped = true;
  private abort = new AbortController();

  constructor(
    private ctx: Ctx,
    private sockets: AgentSockets,
  ) {}

  start() {
    this.stopped = false;
    this.abort = new AbortController();
    this.scan(); // resumes what a previous run left pending
  }

  async stop() {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
    this.abort.abort(); // an interrupted attempt is not recorded: it runs again after a restart
    this.slots.releaseWaiters();
    await Promise.all([...this.lanes.values()].map((l) => l.done));
  }

  /** Something new is in the outbox for the agent, or the agent just authenticated a socket. */
  wake(agentId: string) {
    if (this.stopped) return;
    const lane = this.lanes.get(agentId);
    if (lane?.running) {
      lane.again = true;
      // A webhook POST may be in flight; the socket does not wait for it.
      if (this.sockets.has(agentId)) this.pushOverSocket(agentId);
      return;
    }
    const l: Lane = lane ?? { running: false, again: false, done: Promise.resolve() };
    if (!lane) this.lanes.set(agentId, l);
    l.done = this.run(agentId, l);
  }

  private async run(agentId: string, lane: Lane) {
    lane.running = true;
    try {
      do {
        lane.again = false;
        await this.drain(agentId);
      } while (lane.again && !this.stopped);
    } catch (e) {
      this.ctx.log.error("delivery failed", { agent: agentId, error: e as Error });
    } finally {
      lane.running = false;
      if (this.lanes.get(agentId) === lane) this.lanes.delete(agentId);
    }
  }

  private async drain(agentId: string) {
    for (;;) {
      if (this.stopped) return;
      if (this.pushOverSocket(agentId)) return;
      const agent = q.agent(this.ctx.db).get({ id: agentId });
      if (!agent?.webhookUrl) return; // it waits for a socket (or a webhook_url)
      const row = q.webhookHead(this.ctx.db).get({ agentId });
      if (!row) return;
      if (row.nextAttemptAt === null) return;
      const due = Date.parse(row.nextAttemptAt);
      if (due > Date.now()) {
        this.scheduleScan(due);
        return;
      }
      const settled = await this.postOnce(agentId, agent.webhookUrl, agent.webhookSecret, row);
      if (!settled) return; // stopped, or waiting for its retry
    }
  }

  /**
   * Hands the agent's oldest events it has not received to its newest socket
   * (up to PUSH_BATCH at once). Returns false when the agent has no socket
   * that takes frames (then the webhook path runs).
   *
   * Handing a frame to the socket is not delivering it: Bun keeps what the
   * kernel does not take at once in the process's memory (send() returns -1),
   * and inside a socket's own callbacks every send waits in its cork buffer,
   * so a crash could still lose it. An event counts as delivered only once
   * its bytes have left the process: at a check in a later turn of the event
   * loop (outside any cork) that finds the socket's buffer empty, or else at
   * the drain that empties it (see confirmFlushed). Until then the row stays
   * pending in the database: a crash replays it at the next auth, a socket
   * that closes first lets it go to the webhook or the next socket. A stalled
   * reader thus holds at most one batch of handed-over events.
   */
  pushOverSocket(agentId: string): boolean {
    const sockets = this.sockets;
    for (;;) {
      const ws = sockets.newest(agentId);
      if (!ws) return false;
      if (this.pushBatch(agentId, ws) !== "closed") return true;
      // Dropped: the socket is closing. Try the next one, else fall through to the webhook.
      this.ctx.metrics.inc("nod_deliveries_total", "Deliveries to agents by channel and outcome", { channel: "websocket", outcome: "failed" });
      sockets.remove(agentId, ws);
    }
  }

  private pushBatch(agentId: string, ws: AgentSocket): "sent" | "closed" {
    let handed = this.handed.get(ws);
    if (!handed) this.handed.set(ws, (handed = new Map()));
    // Bytes still in memory from earlier frames: adding more would only grow them; the drain brings the rest.
    if ((ws.getBufferedAmount?.() ?? 0) > 0) return "sent";
    const rows = q.undelivered(this.ctx.db).all({ agentId, limit: PUSH_BATCH });
    for (const row of rows) {
      // Already handed to this socket and waiting to leave the process; or its webhook POST decides (the lane comes back to it).
      if (handed.has(row.id) || this.inflight.has(row.id)) continue;
      const n = ws.send(row.payload);
      if (n === 0) {
        if (ws.readyState !== 1) return "closed";
        break; // open but over its backpressure limit: not sent, the drain brings the rest
      }
      handed.set(row.id, row);
      this.checkFlushedSoon(agentId, ws);
      if (n === -1) break; // buffered in memory: the socket is backed up, the rest follows on drain
    }
    return "sent";
  }

  /** Events handed to each socket whose bytes may not have left the process yet. */
  private handed = new WeakMap<AgentSocket, Map<string, Pick<Row, "id" | "type" | "payload">>>();
  private checks = new WeakSet<AgentSocket>();

  /** The socket's send buffer emptied (or shrank): what waited in it may have left. */
  drained(agentId: string, ws: AgentSocket) {
    this.checkFlushedSoon(agentId, ws);
  }

  /** The socket closed: events handed to it but still in memory are pending yet, and go elsewhere. */
  closed(agentId: string, ws: AgentSocket) {
    const handed = this.handed.get(ws);
    this.handed.delete(ws);
    if (handed?.size) this.wake(agentId);
  }

  private checkFlushedSoon(agentId: string, ws: AgentSocket) {
    if (this.checks.has(ws)) return;
    this.checks.add(ws);
    setImmediate(() => {
      this.checks.delete(ws);
      this.confirmFlushed(agentId, ws);
    });
  }

  /**
   * Runs in its own turn of the event loop, so no cork holds our frames: an
   * empty buffer means every frame handed to the socket so far is with the
   * kernel (bytes leave in order). Marks those events delivered and sends the
   * next batch. A non-empty buffer waits for the socket's drain event.
   */
  private confirmFlushed(agentId: string, ws: AgentSocket) {
    if (this.stopped || ws.readyState !== 1) return;
    if ((ws.getBufferedAmount?.() ?? 0) > 0) return;
    const handed = this.handed.get(ws);
    if (handed?.size) {
      const rows = [...handed.values()];
      handed.clear();
      const db = this.ctx.db;
      const at = isoMs();
      const changed = (id: string) => (q.markSocket(db).run({ id, at }) as unknown as { changes: number }).changes > 0;
      const marked = db.$client.transaction(() => rows.filter((row) => changed(row.id)))();
      for (const row of rows) ws.data?.pushed?.(row.id);
      if (marked.length) {
        this.ctx.metrics.inc("nod_deliveries_total", "Deliveries to agents by channel and outcome", { channel: "websocket", outcome: "delivered" }, marked.length);
        for (const row of marked) this.announce(agentId, row, "delivered", "websocket");
      }
    }
    if (this.sockets.newest(agentId) === ws) this.wake(agentId); // the next batch, if any
  }

  /** One webhook attempt for the row; true when the row is settled (delivered or given up) and the lane may go on. */
  private async postOnce(agentId: string, url: string, secret: string, row: Row): Promise<boolean> {
    const { config, db, metrics } = this.ctx;
    const slot = await this.slots.acquire(this.standing(agentId, row));
    if (this.stopped) {
      this.slots.release(slot);
      return false;
    }
    this.inflight.add(row.id);
    this.slots.sent(slot);
    let result;
    try {
      result = await attemptWebhook({
        url,
        webhookSecret: secret,
        eventId: row.id,
        body: row.payload,
        retryNum: row.attempts,
        retryReason: row.attempts === 0 ? "first_attempt" : retryReasonFrom(row.lastError),
        timeoutMs: config.webhookTimeoutMs,
        blockPrivate: config.webhookBlockPrivate,
        signal: this.abort.signal,
        giveWay: slot.giveWay,
      });
    } finally {
      this.inflight.delete(row.id);
      this.slots.release(slot);
    }
    // Whether the receiver answered in time decides the lane's place when it next waits for a slot.
    this.answeredLanes.set(agentId, Date.now() - slot.sentAt < SLOW_MS);
    if (!result.ok && result.reason === "stopped") return false;
    if (this.stopped) return false; // the database may be closing: the row stays as it was
    const attempts = row.attempts + 1;
    const now = Date.now();
    if (result.ok) {
      db.update(outbox)
        .set({ status: "delivered", deliveredVia: "webhook", deliveredAt: isoMs(now), attempts, nextAttemptAt: null })
        .where(and(eq(outbox.id, row.id), ne(outbox.status, "delivered")))
        .run();
      metrics.inc("nod_deliveries_total", "Deliveries to agents by channel and outcome", { channel: "webhook", outcome: "delivered" });
      this.ctx.log.debug("webhook delivered", { agent: agentId, event: row.id, attempt: attempts, status: result.status });
      this.announce(agentId, row, "delivered", "webhook");
      return true;
    }
    const lastError = `${result.reason}: ${result.error}`;
    metrics.inc("nod_deliveries_total", "Deliveries to agents by channel and outcome", { channel: "webhook", outcome: "failed" });
    if (result.final || attempts >= MAX_ATTEMPTS) {
      db.update(outbox)
        .set({ status: "undelivered", attempts, nextAttemptAt: null, lastError })
        .where(and(eq(outbox.id, row.id), eq(outbox.status, "pending")))
        .run();
      metrics.inc("nod_deliveries_total", "Deliveries to agents by channel and outcome", { channel: "webhook", outcome: "undelivered" });
      this.ctx.log.warn("webhook gave up: event undelivered until the agent connects", { agent: agentId, event: row.id, attempts, error: lastError });
      this.announce(agentId, row, "undelivered", "webhook", lastError);
      return true;
    }
    const next = now + config.webhookRetryBaseMs * 4 ** (attempts - 1);
    const nextIso = isoMs(next);
    db.$client.transaction(() => {
      db.update(outbox).set({ attempts, nextAttemptAt: nextIso, lastError }).where(eq(outbox.id, row.id)).run();
      // Later events wait behind this one, so the agent gets them in order.
      db.update(outbox)
        .set({ nextAttemptAt: nextIso })
        .where(and(eq(outbox.agentId, agentId), eq(outbox.status, "pending"), ne(outbox.type, "task_trigger"), lt(outbox.nextAttemptAt, nextIso)))
        .run();
    })();
    this.ctx.log.info("webhook attempt failed, will retry", { agent: agentId, event: row.id, attempt: attempts, error: lastError, retry_in_ms: next - now });
    this.scheduleScan(next);
    return false;
  }

  /** How the agent's receiver did last time (slots.ts); after a restart, a retry of a timed-out attempt counts as slow. */
  private standing(agentId: string, row: Row): Standing {
    const answered = this.answeredLanes.get(agentId);
    if (answered !== undefined) return answered ? "answered" : "slow";
    return retryReasonFrom(row.lastError) === "timeout" && row.attempts > 0 ? "slow" : "untried";
  }

  /** Tells the inbox an event's outcome (the `delivery` frame). */
  private announce(agentId: string, row: Pick<Row, "id" | "type" | "payload">, status: "delivered" | "undelivered", via: string, error?: string) {
    let ref: Record<string, unknown> = {};
    try {
      const p = JSON.parse(row.payload) as Record<string, unknown>;
      for (const k of ["message_id", "conversation_id", "decision_id", "task_id", "run_id"]) if (typeof p[k] === "string") ref[k] = p[k];
    } catch {}
    this.ctx.writer.announce({ type: "delivery", event_id: row.id, agent_id: agentId, event_type: row.type, status, via, ...ref, ...(error ? { last_error: error } : {}) });
  }

  /** Wakes every offline agent with a webhook whose next attempt is due; sets the timer for the next one. */
  private scan() {
    this.timer = null;
    this.timerAt = Infinity;
    if (this.stopped) return;
    const now = isoMs();
    let next: string | null = null;
    try {
      const due = this.ctx.db.$client
        .query<{ agent_id: string }, [string]>(
          `SELECT DISTINCT o.agent_id FROM outbox o JOIN agents a ON a.id = o.agent_id
           WHERE o.status = 'pending' AND o.type != 'task_trigger' AND o.next_attempt_at <= ?1 AND a.webhook_url IS NOT NULL`,
        )
        .all(now);
      for (const { agent_id } of due) this.wake(agent_id);
      next =
        this.ctx.db.$client
          .query<{ at: string | null }, [string]>(
            `SELECT min(o.next_attempt_at) AS at FROM outbox o JOIN agents a ON a.id = o.agent_id
             WHERE o.status = 'pending' AND o.type != 'task_trigger' AND o.next_attempt_at > ?1 AND a.webhook_url IS NOT NULL`,
          )
          .get(now)?.at ?? null;
    } catch (e) {
      this.ctx.log.error("delivery scan failed", { error: e as Error });
    }
    this.scheduleScan(Math.min(next ? Date.parse(next) : Infinity, Date.now() + SAFETY_SCAN_MS));
  }

  private scheduleScan(atMs: number) {
    if (this.stopped || atMs >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = atMs;
    this.timer = setTimeout(() => this.scan(), Math.max(0, atMs - Date.now()));
    this.timer.unref?.();
  }
}
