// Agents, their sockets, delivery and the push sender on an awaited store
// (step 2 of the async store seam, docs/scale.md): what used to happen within
// one synchronous call now awaits its queries, and must still look the same
// from outside.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { eventually, owner, startTestServer, withAgent } from "./helpers.ts";
import { AgentConnection } from "../server/realtime/agent-socket.ts";
import { SocketPush } from "../server/delivery/socket-push.ts";
import { prepared } from "../server/db/prepared.ts";
import { outbox } from "../server/db/tables.ts";
import type { Db } from "../server/db/index.ts";
import { and, eq, gt } from "drizzle-orm";
import { openAgentSocket } from "./ws-helpers.ts";
import { standInPushService } from "./push-service.ts";

setDefaultTimeout(20_000); // a hang guard

describe("the agent socket's handshake reads the store", async () => {
  const server = await startTestServer();
  const { person, created } = await withAgent(server, { name: "Eager" });

  /** The agent's connection driven in process, with a stand-in socket that keeps what it is sent. */
  const inProcess = (agentId = created.id) => {
    const sent: Record<string, unknown>[] = [];
    const closes: number[] = [];
    const conn = new AgentConnection(server.ctx, server.live, agentId);
    const ws = {
      data: conn,
      readyState: 1,
      send: (text: string) => (sent.push(JSON.parse(text)), text.length),
      close: (code: number) => void closes.push(code),
      getBufferedAmount: () => 0,
    } as unknown as Parameters<AgentConnection["open"]>[0];
    return { conn, ws, sent, closes };
  };

  test("frames sent right behind the auth frame, before auth_ok, are answered after it, in order", async () => {
    const s = await openAgentSocket(server, created.id);
    // one write each, all before the server could answer the first
    s.send({ type: "auth", agent_id: created.id, secret: created.secret });
    s.send({ type: "ping", request_id: "p1" });
    s.send({ type: "alert", title: "right away", request_id: "a2" });
    s.send({ type: "ping", request_id: "p3" });
    await s.waitFor((f) => f.request_id === "p3");
    expect(s.frames.map((f) => f.request_id ?? f.type)).toEqual(["auth_ok", "p1", "a2", "p3"]);
    expect(s.frames.map((f) => f.type)).toEqual(["auth_ok", "pong", "ack", "pong"]);
    await s.close();
  });

  test("frames that arrive in the same turn as the auth frame (the check still reading) wait for it, in order", async () => {
    // In process, so the frames reach the connection before the check's read returns (on
    // PostgreSQL a round trip; over a real socket on SQLite the read ends between two frames).
    const { conn, ws, sent, closes } = inProcess();
    conn.open(ws);
    conn.message(ws, JSON.stringify({ type: "auth", agent_id: created.id, secret: created.secret }));
    conn.message(ws, JSON.stringify({ type: "ping", request_id: "p1" }));
    conn.message(ws, JSON.stringify({ type: "alert", title: "held", request_id: "a2" }));
    await eventually(() => sent.length === 3);
    expect(sent.map((f) => f.request_id ?? f.type)).toEqual(["auth_ok", "p1", "a2"]);
    expect(sent.map((f) => f.type)).toEqual(["auth_ok", "pong", "ack"]);
    expect(closes).toEqual([]);
    conn.close(ws, 1000);
  });

  test("a socket that closes while its auth frame is being checked does not come online", async () => {
    const fresh = await person.createAgent({ name: "Fleeting" });
    const { conn, ws, sent } = inProcess(fresh.id);
    conn.open(ws);
    conn.message(ws, JSON.stringify({ type: "auth", agent_id: fresh.id, secret: fresh.secret }));
    conn.close(ws, 1006); // gone before the check's read returned
    const after = await person.get(`/api/agents/${fresh.id}`); // later: the check is over
    expect(after.body.online).toBe(false);
    expect(server.live.agentSockets.isOnline(fresh.id)).toBe(false);
    expect(sent).toEqual([]);
  });

  test("frames behind an auth frame with a wrong secret are dropped with it: 4003, nothing answered", async () => {
    const s = await openAgentSocket(server, created.id);
    s.send({ type: "auth", agent_id: created.id, secret: "nod_wrong" });
    s.send({ type: "alert", title: "never recorded", request_id: "x1" });
    s.send({ type: "auth", agent_id: created.id, secret: created.secret }); // not a second chance
    expect((await s.closed).code).toBe(4003);
    expect(s.frames).toEqual([]);
  });
});

describe("handing events to a socket", async () => {
  const server = await startTestServer();
  const { person, created } = await withAgent(server, { name: "Reader" });

  test("a round asked for while one is reading runs after it: an event is handed over once, even when a read returns late", async () => {
    for (const text of ["one", "two"]) expect((await person.post(`/api/agents/${created.id}/messages`, { text })).status).toBe(201);
    // A store whose reads take their rows at once but return only when the test lets them
    // (PostgreSQL's round trip, drawn out): a round that read before the first round's
    // events were marked delivered would otherwise hand them out again.
    const waiting: (() => void)[] = [];
    const slowDb = {} as Db;
    prepared(slowDb, "delivery.outbox", () => ({
      undelivered: {
        execute: async (p: { agentId: string; status: "pending" | "undelivered"; after: string; limit: number }) => {
          const rows = await server.ctx.db
            .select({ id: outbox.id, payload: outbox.payload, type: outbox.type })
            .from(outbox)
            .where(and(eq(outbox.agentId, p.agentId), eq(outbox.status, p.status), gt(outbox.id, p.after)))
            .orderBy(outbox.id)
            .limit(p.limit);
          await new Promise<void>((r) => waiting.push(r));
          return rows;
        },
      },
    }));
    const push = new SocketPush({ db: () => slowDb, writer: () => server.ctx.writer, markFailed() {}, inflight: new Set(), delivered() {}, flushed() {} });
    const sent: string[] = [];
    const ws = { readyState: 1, getBufferedAmount: () => 0, send: (text: string) => (sent.push(JSON.parse(text).text), text.length), close() {} };
    const rounds = Promise.all([push.pushBatch(created.id, ws), push.pushBatch(created.id, ws)]);
    let over = false;
    void rounds.then(() => (over = true));
    while (sent.length < 2) {
      await eventually(() => waiting.length > 0);
      waiting.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    const pending = async () => (await person.get(`/api/deliveries?status=pending&agent_id=${created.id}`)).body as unknown[];
    await eventually(async () => (await pending()).length === 0, undefined, "both marked delivered");
    while (!over) {
      while (waiting.length) waiting.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    expect(sent).toEqual(["one", "two"]);
  });
});

describe("the push sender", async () => {
  const server = await startTestServer();
  const alice = await owner(server);
  const key = (await alice.get("/api/push/key")).body.public_key as string;
  const push = await standInPushService(() => key);
  const res = await alice.post("/api/push/subscriptions", { ...push.device("solo"), name: "solo" });
  expect(res.status).toBe(201);

  test("passes asked for while one reads and leases the queue run after it: a due push goes out once", async () => {
    // The private pass: woken from outside it is coalesced, so three are asked for in a row here.
    const sender = server.live.push as unknown as { pump(): void; pumping: Promise<void> | null; inflight: Map<number, Promise<void>> };
    await server.live.push.stop();
    expect((await alice.post("/api/push/test")).status).toBe(202); // queued; the sender is stopped
    await server.live.push.start(); // its first pass
    sender.pump();
    sender.pump();
    await push.until(() => push.shown("solo")[0]);
    while (sender.pumping) await sender.pumping;
    await Promise.all(sender.inflight.values());
    expect(push.received.filter((d) => d.device === "solo").length).toBe(1);
    expect(push.errors).toEqual([]);
  });
});
