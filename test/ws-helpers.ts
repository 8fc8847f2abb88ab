// WebSocket and webhook helpers shared by the real-time, delivery, tasks and
// web tests: real clients on loopback that collect what they receive.
//
//   const a = await connectAgent(server, created);       // authenticated agent socket
//   const f = await a.waitFor((f) => f.type === "user_message");
//   const ack = await a.request({ type: "message", text: "hi" });  // → the ack/error frame
//   const inbox = await connectInbox(server, person);     // /ws/app with the person's cookie
//   const hook = await webhookReceiver();                 // Bun.serve on 127.0.0.1:0
import { createHmac } from "node:crypto";
import { afterAll } from "bun:test";
import { GUARD_MS } from "./helpers.ts";

export type Frame = Record<string, any>;
type Pred = (f: Frame) => boolean;

const toWs = (base: string) => base.replace(/^http/, "ws");
const match = (p: Pred | string): Pred => (typeof p === "string" ? (f) => f.type === p : p);

/** A WebSocket client that keeps every JSON frame it receives. */
export class FrameSocket {
  frames: Frame[] = [];
  /** Resolves when the socket closes, with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  opened: Promise<void>;
  private taken = new Set<Frame>();
  private waiters: { pred: Pred; resolve: (f: Frame) => void }[] = [];
  private nextId = 1;

  constructor(readonly ws: WebSocket) {
    this.opened = new Promise((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("error", (e) => reject(new Error((e as ErrorEvent).message ?? "websocket error")), { once: true });
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason }), { once: true }));
    ws.addEventListener("message", (e) => {
      let f: Frame;
      try {
        f = JSON.parse(String(e.data));
      } catch {
        f = { type: "__raw", data: String(e.data) };
      }
      this.frames.push(f);
      for (const w of this.waiters) {
        if (w.pred(f)) {
          this.taken.add(f);
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(f);
          break;
        }
      }
    });
  }

  /** The first frame matching (a type name or a predicate) not returned before; waits for it if needed (at least GUARD_MS). */
  waitFor(p: Pred | string, timeoutMs = GUARD_MS): Promise<Frame> {
    timeoutMs = Math.max(timeoutMs, GUARD_MS);
    const pred = match(p);
    const have = this.frames.find((f) => !this.taken.has(f) && pred(f));
    if (have) {
      this.taken.add(have);
      return Promise.resolve(have);
    }
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (f: Frame) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`no frame matching ${typeof p === "string" ? p : p.toString()} within ${timeoutMs} ms; got ${JSON.stringify(this.frames).slice(0, 2000)}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Frames received so far of a type (or matching a predicate). */
  all(p: Pred | string): Frame[] {
    return this.frames.filter(match(p));
  }

  /** Waits ms and throws if a matching frame arrived (for "nothing is sent"). */
  async expectNone(p: Pred | string, ms = 300) {
    await Bun.sleep(ms);
    const got = this.frames.filter(match(p));
    if (got.length) throw new Error(`unexpected frame(s): ${JSON.stringify(got)}`);
  }

  send(frame: unknown) {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Sends a frame with a fresh request_id and returns the ack or error frame that echoes it. */
  async request(frame: Frame, timeoutMs = GUARD_MS): Promise<Frame> {
    const request_id = `r${this.nextId++}`;
    this.send({ ...frame, request_id });
    return this.waitFor((f) => (f.type === "ack" || f.type === "error") && f.request_id === request_id, timeoutMs);
  }

  close(code = 1000, reason = "") {
    this.ws.close(code, reason);
    return this.closed;
  }
}

function track(s: FrameSocket) {
  afterAll(() => {
    if (s.ws.readyState <= 1) s.ws.close();
  });
  return s;
}

/**
 * Closing after the tests: afterAll from inside a test runs when that test
 * ends. A socket that later tests go on using is opened with { keep: true }
 * and closed by the test that is done with it.
 */
export interface SocketOptions {
  keep?: boolean;
}

/** Opens /ws/agent/:id without authenticating (for handshake tests). */
export async function openAgentSocket(server: { url: string }, agentId: string, opts: SocketOptions = {}): Promise<FrameSocket> {
  const s = new FrameSocket(new WebSocket(`${toWs(server.url)}/ws/agent/${agentId}`));
  if (!opts.keep) track(s);
  await s.opened;
  return s;
}

export interface AgentSocketClient extends FrameSocket {
  authOk: Frame;
}

/** An authenticated agent socket: connects, sends the auth frame, waits for auth_ok. */
export async function connectAgent(server: { url: string }, agent: { id: string; secret: string }, opts: SocketOptions = {}): Promise<AgentSocketClient> {
  const s = (await openAgentSocket(server, agent.id, opts)) as AgentSocketClient;
  s.send({ type: "auth", agent_id: agent.id, secret: agent.secret });
  const first = await Promise.race([s.waitFor((f) => f.type === "auth_ok"), s.closed.then((c) => Promise.reject(new Error(`agent socket closed during auth: ${c.code} ${c.reason}`)))]);
  s.authOk = first;
  return s;
}

/** The inbox socket (/ws/app) of a signed-in person; waits for its hello frame. */
export async function connectInbox(server: { url: string }, person: { cookie: string }, headers: Record<string, string> = {}): Promise<FrameSocket & { hello: Frame }> {
  const s = track(new FrameSocket(new WebSocket(`${toWs(server.url)}/ws/app`, { headers: { cookie: person.cookie, ...headers } } as any))) as FrameSocket & { hello: Frame };
  await s.opened;
  s.hello = await s.waitFor("hello");
  return s;
}

/** The HTTP status a WebSocket upgrade gets (for refused upgrades), without a WebSocket client. */
export async function upgradeStatus(server: { url: string }, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(server.url + path, {
    headers: { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", ...headers },
  });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body };
}

export interface ReceivedHook {
  headers: Record<string, string>;
  body: string;
  json: Frame;
  at: number;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedHook[];
  /** What the next requests answer: a status, "hang" (never answers) or a function. Shifted per request; when empty, 200. */
  responses: (number | "hang" | ((r: ReceivedHook) => Response | Promise<Response>))[];
  waitFor(n: number, timeoutMs?: number): Promise<ReceivedHook[]>;
  expectNone(ms?: number): Promise<void>;
  stop(): void;
}

/** A real webhook receiver on 127.0.0.1 (a free port) that records every request. */
export async function webhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedHook[] = [];
  const responses: WebhookReceiver["responses"] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      const body = await req.text();
      let json: Frame = {};
      try {
        json = JSON.parse(body);
      } catch {}
      const r: ReceivedHook = { headers: Object.fromEntries(req.headers), body, json, at: Date.now() };
      received.push(r);
      const next = responses.shift() ?? 200;
      if (next === "hang") return new Promise<Response>(() => {});
      if (typeof next === "function") return next(r);
      return new Response(next < 300 ? "ok" : "nope", { status: next });
    },
  });
  const hook: WebhookReceiver = {
    url: `http://127.0.0.1:${server.port}/hook`,
    received,
    responses,
    async waitFor(n, timeoutMs = GUARD_MS) {
      const end = Date.now() + Math.max(timeoutMs, GUARD_MS);
      while (received.length < n) {
        if (Date.now() > end) throw new Error(`webhook got ${received.length} of ${n} requests: ${JSON.stringify(received.map((r) => r.json))}`);
        await Bun.sleep(5);
      }
      return received.slice(0, n);
    },
    async expectNone(ms = 300) {
      const before = received.length;
      await Bun.sleep(ms);
      if (received.length !== before) throw new Error(`unexpected webhook request(s): ${JSON.stringify(received.slice(before).map((r) => r.json))}`);
    },
    stop: () => server.stop(true),
  };
  afterAll(() => server.stop(true));
  return hook;
}

/** Verifies X-Nod-Signature the way an agent would: HMAC-SHA256 of "<timestamp>.<raw body>" keyed by the whsec_ string. */
export function verifySignature(webhookSecret: string, hook: Pick<ReceivedHook, "headers" | "body">): boolean {
  const expected = "sha256=" + createHmac("sha256", webhookSecret).update(`${hook.headers["x-nod-timestamp"]}.${hook.body}`).digest("hex");
  return hook.headers["x-nod-signature"] === expected;
}
