// One agent's WebSocket (/ws/agent/:agent_id): the auth handshake, then every
// frame through the same event functions REST uses, answered with ack/error.
//
// Handshake: the first frame must be {"type":"auth","agent_id","secret"}
// within 10 s. Close codes: 4001 first frame not a valid JSON auth message
// (or none in time), 4003 wrong secret, 4004 unknown agent id — also when the
// frame's agent_id differs from the one in the URL (the URL names an agent the
// credentials are not for). `agent_id` may be left out of the frame; the
// URL's id is used then.
//
// Events pushed to a socket count as delivered once their bytes have left the
// process (the dispatcher checks the socket's buffer; what a slow reader left
// in memory waits for the drain event, pending in the database meanwhile). If
// the socket then dies without a clean close (code 1006: the peer vanished, or
// the idle timeout found it dead), the events pushed to it since its last sign
// of life (any frame or pong received later than 1 s after the push) go back
// to the queue and on to the webhook or the next socket: at-least-once,
// deduplicated by the agent on event_id.
//
// Several sockets per agent may be open at once: all stay open, each can send
// events, and deliveries go to the most recently authenticated one. The agent
// is online while at least one is open. With several instances on PostgreSQL
// this holds across them (sockets.ts, presence-pg.ts).
import type { ServerWebSocket } from "bun";
import { eq, sql } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import type { Db } from "../db/index.ts";
import type { InboxFrame } from "../db/unit-of-work.ts";
import { agents } from "../db/tables.ts";
import { prepared } from "../db/prepared.ts";
import { checkAgentCredentials, knownAgent } from "../agents/service.ts";
import { handleAgentEvent, joinsGroupCommit, WS_EVENT_TYPES } from "../events/service.ts";
import { HttpError } from "../lib/errors.ts";
import { nestedDeeperThan, nulAt, nulDetail, tooDeepDetail } from "../lib/json-depth.ts";
import { randomHex } from "../lib/ids.ts";
import { isoMs } from "../lib/time.ts";
import { requeueSocketEvents } from "../db/outbox.ts";
import type { Live } from "../effects.ts";

/** Tunable by tests; the documented values are 10 s and one last_seen_at write a minute. */
export const AGENT_WS = { authTimeoutMs: 10_000, lastSeenEveryMs: 60_000, confirmAfterMs: 1_000, maxUnconfirmed: 1_000 };

export const CLOSE = { badAuth: 4001, badSecret: 4003, unknownAgent: 4004 } as const;
const MAX_AUTH_FRAME = 4096;

// Frames sent every second that only signal liveness: acknowledged only when they carry a request_id.
const QUIET = new Set(["agent_heartbeat", "agent_idle"]);

type WS = ServerWebSocket<AgentConnection>;

const touchStmt = (db: Db) =>
  prepared(db, "agents.touch", (db) =>
    db.update(agents).set({ lastSeenAt: sql`${sql.placeholder("at")}` }).where(eq(agents.id, sql.placeholder("id"))).prepare(),
  );

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

export class AgentConnection {
  state: "auth" | "open" | "closed" = "auth";
  agentId = "";
  sessionId = "";
  private authTimer: ReturnType<typeof setTimeout> | null = null;
  /** Settles once every frame so far has been answered (its reply sent), in order. */
  private replied: Promise<void> = Promise.resolve();
  /** Frames start after this: the answer of the last frame that could not join a group commit. */
  private gate: Promise<unknown> = Promise.resolve();
  private lastTouch = 0;
  /** Frames that came in while the auth frame was being checked (it reads the store): handled in order once it is. */
  private held: (string | Buffer)[] | null = null;
  private unconfirmed: { id: string; at: number }[] | null = null; // pushed events not yet followed by a sign of life

  constructor(
    private ctx: Ctx,
    private live: Pick<Live, "agentSockets" | "dispatcher">,
    readonly pathAgentId: string,
  ) {}

  open(ws: WS) {
    this.authTimer = setTimeout(() => {
      if (this.state === "auth") this.refuse(ws, CLOSE.badAuth, "no auth message within 10 s");
    }, AGENT_WS.authTimeoutMs);
  }

  /** An event pushed over this socket has left the process. */
  pushed(eventId: string) {
    const list = (this.unconfirmed ??= []);
    list.push({ id: eventId, at: Date.now() });
    if (list.length > AGENT_WS.maxUnconfirmed) list.shift();
  }

  /** A sign of life: events pushed more than confirmAfterMs before it have arrived. */
  private heard() {
    const list = this.unconfirmed;
    if (!list) return;
    const cut = Date.now() - AGENT_WS.confirmAfterMs;
    let i = 0;
    while (i < list.length && list[i]!.at <= cut) i++;
    if (i === list.length) this.unconfirmed = null;
    else if (i > 0) list.splice(0, i);
  }

  /** The socket's send buffer drained: what waited in it counts as delivered, and the next events follow. */
  drain(ws: WS) {
    if (this.state === "open") this.live.dispatcher.drained(this.agentId, ws);
  }

  pong(_ws: WS) {
    this.heard();
  }
  ping(_ws: WS) {
    this.heard();
  }

  message(ws: WS, raw: string | Buffer) {
    if (this.state === "closed") return;
    if (this.held) return void this.held.push(raw);
    if (this.state === "open") this.heard();
    const text = typeof raw === "string" ? raw : raw.toString("utf8");
    if (this.state === "auth") return this.startAuth(ws, text);
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      return this.send(ws, { type: "error", detail: "invalid JSON" });
    }
    if (!isObject(frame)) return this.send(ws, { type: "error", detail: "expected a JSON object" });
    const rid = frame.request_id;
    const requestId = typeof rid === "string" || typeof rid === "number" ? { request_id: rid } : {};
    if (nestedDeeperThan(frame)) return this.send(ws, { type: "error", ...requestId, detail: tooDeepDetail("frame"), code: 400 });
    const nul = nulAt(frame, "frame");
    if (nul !== null) return this.send(ws, { type: "error", ...requestId, detail: nulDetail(nul), code: 400 });
    // Replies go out in the order the frames came in, and their writes and effects
    // keep that order too. Consecutive plain writes (a message without an image, a
    // request, an alert…) start at once, so they join the same group commit; any
    // other frame waits until every frame before it has been answered, and the
    // frames after it wait for it.
    const joins = joinsGroupCommit(frame);
    const start = () => (this.state === "open" ? this.answer(ws, frame, requestId) : null);
    const reply = joins ? this.gate.then(start) : this.replied.then(start);
    this.replied = this.replied
      .then(() => reply)
      .then(
        (r) => {
          if (r && this.state === "open") this.send(ws, r);
        },
        (e) => this.ctx.log.error("agent frame failed", { agent: this.agentId, error: e as Error }), // answer() catches; never stall the socket
      );
    if (!joins) this.gate = this.replied;
  }

  /** Handles one frame; returns the reply to send (none for a quiet heartbeat). */
  private async answer(ws: WS, frame: Record<string, unknown>, requestId: { request_id?: string | number }): Promise<Record<string, unknown> | null> {
    if (frame.type === "ping") return { type: "pong", ...requestId };
    if (frame.type === "auth") return { type: "error", ...requestId, detail: "already authenticated" };
    const agent = await knownAgent(this.ctx.db, this.agentId); // from memory; a deleted agent is dropped there at once
    if (!agent) {
      this.refuse(ws, CLOSE.unknownAgent, "agent deleted");
      return null;
    }
    this.touch(false);
    try {
      const reply = await handleAgentEvent(this.ctx, agent, frame, WS_EVENT_TYPES);
      if (QUIET.has(frame.type as string) && !("request_id" in requestId)) return null;
      return { type: "ack", ...requestId, ...reply };
    } catch (e) {
      if (e instanceof HttpError) return { type: "error", ...requestId, detail: e.detail, code: e.status };
      this.ctx.log.error("agent frame failed", { agent: this.agentId, type: frame.type, error: e as Error });
      return { type: "error", ...requestId, detail: "internal error", code: 500 };
    }
  }

  /**
   * Checks the auth frame. The frames that arrive meanwhile are held and then
   * handled in the order they came, as if the check had been instant; if the
   * socket was refused, they are dropped.
   */
  private startAuth(ws: WS, text: string) {
    this.held = [];
    this.authenticate(ws, text)
      .catch((e) => {
        this.ctx.log.error("agent socket authentication failed", { agent: this.pathAgentId, error: e as Error });
        if (this.state === "auth") this.refuse(ws, 1011, "internal error");
      })
      .finally(() => {
        const held = this.held ?? [];
        this.held = null;
        if (this.state !== "open") return;
        for (const raw of held) this.message(ws, raw);
      });
  }

  private async authenticate(ws: WS, text: string) {
    // An auth message is a few hundred bytes; nothing large is parsed before the agent is known.
    if (text.length > MAX_AUTH_FRAME) return this.refuse(ws, CLOSE.badAuth, "auth message too large");
    let f: unknown;
    try {
      f = JSON.parse(text);
    } catch {
      return this.refuse(ws, CLOSE.badAuth, "first message must be a JSON auth message");
    }
    // An auth frame with a secret string is valid even when the secret is empty: that is a wrong secret (4003).
    if (!isObject(f) || nestedDeeperThan(f) || f.type !== "auth" || typeof f.secret !== "string" || (f.agent_id !== undefined && typeof f.agent_id !== "string"))
      return this.refuse(ws, CLOSE.badAuth, "first message must be {type:auth, agent_id, secret}");
    const id = (f.agent_id as string | undefined) ?? this.pathAgentId;
    if (id !== this.pathAgentId) return this.refuse(ws, CLOSE.unknownAgent, "agent_id does not match the URL");
    const check = await checkAgentCredentials(this.ctx.db, id, f.secret);
    if (this.state !== "auth") return; // closed (or timed out) while the check read the store
    if (!check.ok) {
      return check.reason === "unknown_agent"
        ? this.refuse(ws, CLOSE.unknownAgent, "agent not found")
        : this.refuse(ws, CLOSE.badSecret, "invalid secret");
    }
    this.clearAuthTimer();
    const { ctx } = this;
    this.state = "open";
    this.agentId = id;
    this.sessionId = "sess_" + randomHex(12);
    const cameOnline = this.live.agentSockets.add(id, ws, this.sessionId);
    this.send(ws, { type: "auth_ok", session_id: this.sessionId, agent_name: check.agent.name });
    this.touch(true, cameOnline ? { type: "agent_status", agent_id: id, online: true } : undefined);
    ctx.metrics.inc("nod_agent_socket_auth_total", "Agent WebSocket handshakes by outcome", { outcome: "ok" });
    ctx.log.debug("agent socket authenticated", { agent: id, session: this.sessionId });
    // Everything not yet delivered follows auth_ok, oldest first.
    this.live.dispatcher.wake(id);
  }

  close(ws: WS, code: number, _reason?: string) {
    this.clearAuthTimer();
    const wasOpen = this.state === "open";
    this.state = "closed";
    if (!wasOpen) return;
    const { ctx } = this;
    // (The dispatcher may have dropped a dying socket from the set already.)
    const wentOffline = this.live.agentSockets.remove(this.agentId, ws) || !this.live.agentSockets.isOnline(this.agentId);
    this.live.dispatcher.closed(this.agentId, ws);
    ctx.log.debug("agent socket closed", { agent: this.agentId, session: this.sessionId, code });
    // Died without a clean close: what it may never have received goes out again.
    if (code === 1006 && this.unconfirmed) {
      const ids = this.unconfirmed.map((u) => u.id);
      this.unconfirmed = null;
      const agentId = this.agentId;
      ctx.writer
        .now(async (uow) => await requeueSocketEvents(uow.db, ids))
        .then(
          (n) => {
            if (!n) return;
            ctx.log.info("agent socket dropped: events re-queued", { agent: agentId, events: n });
            ctx.metrics.inc("nod_deliveries_total", "Deliveries to agents by channel and outcome", { channel: "websocket", outcome: "requeued" }, n);
            this.live.dispatcher.redeliver(agentId);
          },
          () => {}, // the database is closing (server shutdown)
        );
    }
    if (!wentOffline) return;
    ctx.processing.stopAgent(this.agentId);
    this.touch(true, { type: "agent_status", agent_id: this.agentId, online: false });
  }

  private refuse(ws: WS, code: number, reason: string) {
    this.clearAuthTimer();
    if (this.state === "auth") {
      const outcome = code === CLOSE.badAuth ? "bad_message" : code === CLOSE.badSecret ? "bad_secret" : code === CLOSE.unknownAgent ? "unknown_agent" : "error";
      this.ctx.metrics.inc("nod_agent_socket_auth_total", "Agent WebSocket handshakes by outcome", { outcome });
    }
    ws.close(code, reason);
  }

  private send(ws: WS, frame: Record<string, unknown>) {
    ws.send(JSON.stringify(frame));
  }

  /**
   * Records last_seen_at: always at connect and disconnect, at most once a
   * minute in between. The inbox's agent_status (online, offline) is an effect
   * of that write: sent once it is committed, so that an inbox reading the
   * agent then finds its last_seen_at (on PostgreSQL the COMMIT is a round trip
   * away), and in the order the writes were made.
   */
  private touch(force: boolean, status?: InboxFrame) {
    const now = Date.now();
    if (!force && now - this.lastTouch < AGENT_WS.lastSeenEveryMs) return;
    this.lastTouch = now;
    const id = this.agentId;
    this.ctx.writer
      .now(async (uow) => {
        await touchStmt(uow.db).execute({ id, at: isoMs(now) });
        if (status) uow.toInbox(status);
      })
      // The database is closing or cannot be reached: nothing recorded, the inbox told all the same.
      .catch(() => status && this.ctx.writer.announce(status));
  }

  private clearAuthTimer() {
    if (this.authTimer) clearTimeout(this.authTimer);
    this.authTimer = null;
  }
}
