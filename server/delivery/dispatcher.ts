// Drains the outbox to agents — the one delivery path for user_message,
// decision_resolved, task_due and task_trigger:
//
//   outbox row → the agent's newest authenticated WebSocket (socket-push.ts)
//              → else POST to its webhook_url (webhook.ts; retries: retry-policy.ts)
//              → else it waits (pending, or "undelivered" once nod gave up)
//                and goes over the socket at the agent's next auth.
//
// task_trigger never goes to a webhook: socket, or it stays pending for polling.
//
// Each agent has its own lane (at most one webhook POST in flight per agent,
// oldest event first); lanes never wait on each other, so one slow or dead
// webhook holds up nobody else. POSTs in flight over all agents are capped
// (slots.ts: below Bun's own fetch limit, and hung receivers give way). The
// SQL is in outbox-queries.ts, the retry timer in retry-timer.ts.
//
// With several instances on one PostgreSQL database: only the instance that
// holds the agent's newest socket pushes over it, an agent with a socket on
// another live instance gets no webhook POST from this one, and one instance
// at a time drives an agent's webhook lane (a lease: lanes-pg.ts).
import type { Ctx } from "../context.ts";
import type { AgentSocket, AgentSockets } from "../realtime/sockets.ts";
import { attemptWebhook, retryReasonFrom } from "./webhook.ts";
import { PostSlots, SLOW_MS, type Slot, type Standing } from "./slots.ts";
import { SocketPush } from "./socket-push.ts";
import { RetryTimer } from "./retry-timer.ts";
import { nextAttemptAt } from "./retry-policy.ts";
import { soloLanes, type LaneLeases } from "./lanes-pg.ts";
import * as q from "./outbox-queries.ts";
import { isoMs } from "../lib/time.ts";

interface Lane {
  running: boolean;
  again: boolean;
  done: Promise<void>;
}

const DELIVERIES = ["nod_deliveries_total", "Deliveries to agents by channel and outcome"] as const;

export class OutboxDispatcher {
  private lanes = new Map<string, Lane>();
  private inflight = new Set<string>(); // event ids with a webhook POST under way
  private slots = new PostSlots();
  private answeredLanes = new Map<string, boolean>(); // by agent: was its last webhook POST answered within SLOW_MS?
  private stopped = true;
  private abort = new AbortController();
  private retries: RetryTimer;
  private push: SocketPush;
  private leases: LaneLeases = soloLanes;

  constructor(
    private ctx: Ctx,
    private sockets: AgentSockets,
  ) {
    this.retries = new RetryTimer(() => ctx.db, ctx.log, (agentId) => this.wake(agentId));
    this.push = new SocketPush({
      db: () => ctx.db,
      writer: () => ctx.writer,
      markFailed: (agentId, e) => {
        if (!this.stopped) ctx.log.error("marking events delivered failed; they stay pending", { agent: agentId, error: e as Error });
      },
      inflight: this.inflight,
      delivered: (agentId, _ws, rows) => {
        ctx.metrics.inc(...DELIVERIES, { channel: "websocket", outcome: "delivered" }, rows.length);
        for (const row of rows) this.announce(agentId, row, "delivered", "websocket");
      },
      flushed: (agentId, ws) => {
        if (this.sockets.newest(agentId) === ws) this.wake(agentId); // the next batch, if any
      },
    });
  }

  /** Webhook lanes leased among instances (cluster.ts on PostgreSQL); each process's own otherwise. */
  shareLanes(lanes: LaneLeases) {
    this.leases = lanes;
  }

  start() {
    this.stopped = false;
    this.push.stopped = false;
    this.abort = new AbortController();
    this.retries.start();
  }

  async stop() {
    this.stopped = true;
    this.push.stopped = true;
    this.retries.stop();
    this.abort.abort(); // an interrupted attempt is not recorded: it runs again after a restart
    this.slots.releaseWaiters();
    await Promise.all(Array.from(this.lanes, ([, l]) => l.done));
  }

  /** Something new is in the outbox for the agent, or the agent just authenticated a socket. */
  wake(agentId: string) {
    if (this.stopped) return;
    const lane = this.lanes.get(agentId);
    if (lane?.running) {
      lane.again = true;
      // A webhook POST may be in flight; the socket does not wait for it.
      if (this.sockets.has(agentId)) this.pushOverSocket(agentId).catch((e) => this.ctx.log.error("delivery failed", { agent: agentId, error: e as Error }));
      return;
    }
    const l: Lane = lane ?? { running: false, again: false, done: Promise.resolve() };
    if (!lane) this.lanes.set(agentId, l);
    l.done = this.run(agentId, l);
  }

  /** Older events of the agent were put back in the queue (a retry, a dead socket's): its sockets look at the whole queue again. */
  redeliver(agentId: string) {
    this.push.rewind(agentId);
    this.wake(agentId);
  }

  /** An agent socket's send buffer drained: what waited in it counts as delivered, and the next events follow. */
  drained(agentId: string, ws: AgentSocket) {
    this.push.drained(agentId, ws);
  }

  /** An agent socket closed: events still in its buffer go elsewhere (once the marks of what left are committed). */
  closed(agentId: string, ws: AgentSocket) {
    this.push.closed(ws).then(
      (handed) => handed && this.wake(agentId),
      (e) => this.ctx.log.error("delivery failed", { agent: agentId, error: e as Error }),
    );
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
    let leased = false;
    try {
      for (;;) {
        if (this.stopped) return;
        if (await this.pushOverSocket(agentId)) return;
        if (this.sockets.elsewhere(agentId)) return; // another instance holds its socket and pushes there
        const hook = await q.webhookOf(this.ctx.db, agentId);
        if (!hook?.url) return; // it waits for a socket (or a webhook_url)
        let row = await this.dueHead(agentId);
        if (!row) return;
        // It reached a socket (that may have closed since): its delivered mark settles it, not the webhook.
        if (this.push.isMarking(row.id)) {
          await this.push.marksSettled();
          continue;
        }
        if (this.leases.shared) {
          // The lane's lease, taken or renewed before each POST; the head is read again under it
          // (the previous holder may have just delivered the row read above).
          if (!(await this.leases.take(agentId))) return; // another instance drives this lane
          leased = true;
          if (!(row = await this.dueHead(agentId))) return;
        }
        const settled = await this.postOnce(agentId, hook.url, hook.secret, row);
        if (!settled) return; // stopped, or waiting for its retry
      }
    } finally {
      if (leased) await this.letLaneGo(agentId);
    }
  }

  /** The agent's oldest event waiting for a webhook attempt, when it is due now (else the retry timer is set for it). */
  private async dueHead(agentId: string): Promise<q.OutboxRow | undefined> {
    const row = await q.webhookHead(this.ctx.db, agentId);
    if (!row || row.nextAttemptAt === null) return undefined;
    const due = Date.parse(row.nextAttemptAt);
    if (due > Date.now()) return void this.retries.at(due);
    return row;
  }

  /**
   * The lease goes; an event committed on another instance while this one
   * held the lane found it taken, so the head is read once more afterwards.
   */
  private async letLaneGo(agentId: string) {
    await this.leases.release(agentId);
    if (this.stopped || this.sockets.elsewhere(agentId)) return;
    if (await this.dueHead(agentId).catch(() => undefined)) this.wake(agentId);
  }

  /** Hands the agent's events to its newest socket; false when it has none that takes frames (then the webhook path runs). */
  async pushOverSocket(agentId: string): Promise<boolean> {
    for (;;) {
      const ws = this.sockets.newest(agentId);
      if (!ws) return false;
      if ((await this.push.pushBatch(agentId, ws)) !== "closed") return true;
      // Dropped: the socket is closing. Try the next one, else fall through to the webhook.
      this.ctx.metrics.inc(...DELIVERIES, { channel: "websocket", outcome: "failed" });
      this.sockets.remove(agentId, ws);
    }
  }

  /** One webhook attempt for the row; true when the row is settled (delivered or given up) and the lane may go on. */
  private async postOnce(agentId: string, url: string, secret: string, row: q.OutboxRow): Promise<boolean> {
    const slot = await this.slots.acquire(this.standing(agentId, row));
    if (this.stopped) {
      this.slots.release(slot);
      return false;
    }
    this.inflight.add(row.id);
    try {
      return await this.attemptAndRecord(agentId, url, secret, row, slot);
    } finally {
      // Only once the outcome has committed: until then the row is pending in the
      // database, and a socket round would hand it out again (a second delivery).
      this.inflight.delete(row.id);
    }
  }

  /** The attempt, and its outcome written; see postOnce. */
  private async attemptAndRecord(agentId: string, url: string, secret: string, row: q.OutboxRow, slot: Slot): Promise<boolean> {
    const { config, writer, metrics, log } = this.ctx;
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
      this.slots.release(slot);
    }
    // Whether the receiver answered in time decides the lane's place when it next waits for a slot.
    this.answeredLanes.set(agentId, Date.now() - slot.sentAt < SLOW_MS);
    if (!result.ok && result.reason === "stopped") return false;
    if (this.stopped) return false; // the database may be closing: the row stays as it was
    const attempts = row.attempts + 1;
    const now = Date.now();
    if (result.ok) {
      await writer.now(async (uow) => q.markWebhookDelivered(uow.db, row.id, attempts, now));
      metrics.inc(...DELIVERIES, { channel: "webhook", outcome: "delivered" });
      log.debug("webhook delivered", { agent: agentId, event: row.id, attempt: attempts, status: result.status });
      this.announce(agentId, row, "delivered", "webhook");
      return true;
    }
    const lastError = `${result.reason}: ${result.error}`;
    metrics.inc(...DELIVERIES, { channel: "webhook", outcome: "failed" });
    const policy = { baseMs: config.webhookRetryBaseMs, windowMs: config.webhookRetryWindowMs };
    const next = nextAttemptAt(policy, attempts, Date.parse(row.createdAt), now, result.final);
    if (next === null) {
      await writer.now(async (uow) => q.markUndelivered(uow.db, row.id, attempts, lastError));
      metrics.inc(...DELIVERIES, { channel: "webhook", outcome: "undelivered" });
      log.warn("webhook gave up: event undelivered until the agent connects", { agent: agentId, event: row.id, attempts, error: lastError });
      this.announce(agentId, row, "undelivered", "webhook", lastError);
      return true;
    }
    await writer.now(async (uow) => q.scheduleRetry(uow.db, agentId, row.id, attempts, isoMs(next), lastError));
    log.info("webhook attempt failed, will retry", { agent: agentId, event: row.id, attempt: attempts, error: lastError, retry_in_ms: next - now });
    this.retries.at(next);
    return false;
  }

  /** How the agent's receiver did last time (slots.ts); after a restart, a retry of a timed-out attempt counts as slow. */
  private standing(agentId: string, row: q.OutboxRow): Standing {
    const answered = this.answeredLanes.get(agentId);
    if (answered !== undefined) return answered ? "answered" : "slow";
    return retryReasonFrom(row.lastError) === "timeout" && row.attempts > 0 ? "slow" : "untried";
  }

  /** Tells the inbox an event's outcome (the `delivery` frame). */
  private announce(agentId: string, row: q.RowRef, status: "delivered" | "undelivered", via: string, error?: string) {
    const frame = { type: "delivery", event_id: row.id, agent_id: agentId, event_type: row.type, status, via, ...q.payloadRefs(row.payload) };
    this.ctx.writer.announce(error ? { ...frame, last_error: error } : frame);
  }
}
