// The write path that batches: credentials and sessions kept in memory (and
// dropped at once when revoked), a socket's frames sharing group commits while
// their acks keep their order, delivered marks joining the writes around them.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { AgentClient, PNG_1x1, Person, eventually, owner, startTestServer, writeDb } from "./helpers.ts";
import { connectAgent, connectInbox, webhookReceiver } from "./ws-helpers.ts";
import { describeSqlite } from "./pg-helpers.ts";
import { sendUserMessage } from "../server/conversations/service.ts";
import { getAgent } from "../server/agents/service.ts";

setDefaultTimeout(60_000); // each test starts a server (a hang guard, not a time check)

describe("kept credentials never outlive their revocation", async () => {
  const server = await startTestServer();
  const person = await owner(server);

  test("a secret used a moment ago is refused at once after a rotation (REST 401, socket 4003); the new one works", async () => {
    const created = await person.createAgent({ name: "Rotated" });
    const old = new AgentClient(server.url, created.id, created.secret);
    expect((await old.event({ type: "message", text: "before" })).status).toBe(200); // the credential is now known
    const socket = await connectAgent(server, created);
    const rotated = await person.post(`/api/agents/${created.id}/secret`);
    expect(rotated.status).toBe(200);
    expect((await old.event({ type: "message", text: "after" })).status).toBe(401);
    expect((await socket.closed).code).toBe(4003);
    const fresh = new AgentClient(server.url, created.id, rotated.body.secret);
    expect((await fresh.event({ type: "message", text: "with the new secret" })).status).toBe(200);
    // a new socket with the old secret is refused too
    const again = await connectAgent(server, created).catch((e: Error) => e.message);
    expect(again).toContain("4003");
  });

  test("a deleted agent's credentials, used a moment ago, answer 401 at once; its socket closes (4004)", async () => {
    const created = await person.createAgent({ name: "Deleted" });
    const agent = new AgentClient(server.url, created.id, created.secret);
    expect((await agent.event({ type: "message", text: "hello" })).status).toBe(200);
    const socket = await connectAgent(server, created);
    expect((await socket.request({ type: "alert", title: "still here" })).type).toBe("ack");
    expect((await person.delete(`/api/agents/${created.id}`)).status).toBe(204);
    expect((await agent.event({ type: "message", text: "gone?" })).status).toBe(401);
    expect((await agent.get("/api/agent/tasks")).status).toBe(401);
    expect((await socket.closed).code).toBe(4004);
  });

  test("a renamed agent's next event carries the new name; a change to approval-only applies to the next message", async () => {
    const created = await person.createAgent({ name: "Old name" });
    const agent = new AgentClient(server.url, created.id, created.secret);
    expect((await agent.event({ type: "message", text: "one" })).status).toBe(200);
    expect((await person.patch(`/api/agents/${created.id}`, { name: "New name" })).status).toBe(200);
    expect((await agent.event({ type: "message", text: "two" })).status).toBe(200);
    const feed = (await person.get(`/api/agents/${created.id}/activity`)).body as { title: string }[];
    expect(feed.map((a) => a.title)).toEqual(["New name sent a message", "Old name sent a message"]);
    expect((await person.patch(`/api/agents/${created.id}`, { type: "approval_only" })).status).toBe(200);
    expect((await agent.event({ type: "message", text: "three" })).status).toBe(403);
  });

  test("a session used a moment ago is refused at once after sign-out; another session of the same person stays", async () => {
    const second = new Person(server.url);
    expect((await second.post("/api/auth/login", { username: "alice", password: "correct horse battery" })).status).toBe(200);
    expect((await person.get("/api/agents")).status).toBe(200);
    expect((await second.get("/api/agents")).status).toBe(200);
    const cookie = second.cookie;
    expect((await second.post("/api/auth/logout")).status).toBe(204);
    second.cookie = cookie; // the browser kept it anyway
    expect((await second.get("/api/agents")).status).toBe(401);
    expect((await person.get("/api/agents")).status).toBe(200);
  });
});

describe("one socket's frames", async () => {
  const server = await startTestServer();
  const person = await owner(server);

  test("sent back to back: acks in the order sent, messages stored in that order, and they share commits", async () => {
    const created = await person.createAgent({ name: "Fast" });
    const a = await connectAgent(server, created);
    const batches = server.ctx.writer.batches;
    const N = 100;
    for (let i = 0; i < N; i++) a.send({ type: "message", text: `m${i}`, request_id: i });
    await eventually(() => a.all("ack").length === N, 10_000, "every ack");
    expect(a.all("ack").map((f) => f.request_id)).toEqual([...Array(N).keys()]);
    const conv = a.all("ack")[0]!.conversation_id as string;
    const msgs = (await person.get(`/api/conversations/${conv}/messages?limit=200`)).body as { text: string; id: string }[];
    expect(msgs.map((m) => m.text)).toEqual([...Array(N).keys()].map((i) => `m${i}`));
    expect(a.all("ack").map((f) => f.message_id)).toEqual(msgs.map((m) => m.id));
    // Each frame waited for its own commit before: N commits. Now frames that arrive together commit together.
    expect(server.ctx.writer.batches - batches).toBeLessThan(N);
  });

  test("mixed frames (an image, a ping, an indicator, a bad frame) keep their order: replies and stored messages", async () => {
    const created = await person.createAgent({ name: "Mixed" });
    const a = await connectAgent(server, created);
    const inbox = await connectInbox(server, person);
    const frames = [
      { type: "message", text: "first" },
      { type: "message", text: "with an image", image_base64: PNG_1x1 },
      { type: "message", text: "after the image" },
      { type: "ping" },
      { type: "processing_start" },
      { type: "message", text: "" }, // 400: text required
      { type: "alert", title: "an alert" },
      { type: "processing_stop" },
      { type: "message", text: "last" },
    ];
    frames.forEach((f, i) => a.send({ ...f, request_id: i }));
    await eventually(() => a.frames.filter((f) => "request_id" in f).length === frames.length, 10_000, "every reply");
    const replies = a.frames.filter((f) => "request_id" in f);
    expect(replies.map((f) => [f.request_id, f.type])).toEqual([
      [0, "ack"],
      [1, "ack"],
      [2, "ack"],
      [3, "pong"],
      [4, "ack"],
      [5, "error"],
      [6, "ack"],
      [7, "ack"],
      [8, "ack"],
    ]);
    const conv = replies[0]!.conversation_id as string;
    const msgs = (await person.get(`/api/conversations/${conv}/messages`)).body as { text: string }[];
    expect(msgs.map((m) => m.text)).toEqual(["first", "with an image", "after the image", "last"]);
    // the inbox saw the writes and the indicators in the order they were sent
    await inbox.waitFor((f) => f.type === "message" && f.message.text === "last");
    const seen = inbox.frames
      .filter((f) => f.type === "message" || f.type === "processing" || (f.type === "activity" && f.activity.type === "agent_action"))
      .map((f) => (f.type === "message" ? f.message.text : f.type === "processing" ? `processing ${f.active}` : f.activity.title));
    // (an alert while "Thinking…" becomes the indicator's text: a second processing frame)
    expect(seen).toEqual(["first", "with an image", "after the image", "processing true", "an alert", "processing true", "processing false", "last"]);
  });
});

describe("delivered marks", async () => {
  const server = await startTestServer();
  const person = await owner(server);

  test("share one commit for a burst of events, each marked once, each announced once", async () => {
    const created = await person.createAgent({ name: "Receiver" });
    const a = await connectAgent(server, created);
    const inbox = await connectInbox(server, person);
    const agent = await getAgent(server.ctx.db, created.id);
    const batches = server.ctx.writer.batches;
    const ids = await Promise.all(Array.from({ length: 20 }, async (_, i) => (await sendUserMessage(server.ctx, agent, "alice", `burst ${i}`)).message_id));
    await eventually(() => a.all("user_message").length === 20, 10_000, "every event over the socket");
    await eventually(async () => ((await person.get(`/api/deliveries?status=delivered&agent_id=${created.id}`)).body as unknown[]).length === 20, 5000, "all marked delivered");
    expect(a.all("user_message").map((f) => f.message_id)).toEqual(ids);
    await eventually(() => inbox.all("delivery").length === 20, 5000, "a delivery frame each");
    expect(new Set(inbox.all("delivery").map((f) => f.message_id))).toEqual(new Set(ids));
    // The marks went through the group commit, together (they took a transaction of their own, outside it).
    expect(server.ctx.writer.batches - batches).toBeGreaterThanOrEqual(1);
    expect(server.ctx.writer.batches - batches).toBeLessThan(20);
    expect((await person.get(`/api/deliveries?agent_id=${created.id}`)).body).toEqual([]); // nothing pending
  });

  test("a socket closed right after its events left: they count as delivered, the webhook gets no copy", async () => {
    const hook = await webhookReceiver();
    const created = await person.createAgent({ name: "Closer", webhook_url: hook.url });
    const a = await connectAgent(server, created);
    const agent = await getAgent(server.ctx.db, created.id);
    const { message_id } = await sendUserMessage(server.ctx, agent, "alice", "goodbye");
    await a.waitFor("user_message");
    await a.close(1000);
    await hook.expectNone(500);
    const delivered = (await person.get(`/api/deliveries?status=delivered&agent_id=${created.id}`)).body as { message_id: string; delivered_via: string }[];
    expect(delivered.map((d) => [d.message_id, d.delivered_via])).toEqual([[message_id, "websocket"]]);
  });
});

describe("a socket reads only what it was not handed yet", async () => {
  const server = await startTestServer();
  const person = await owner(server);

  test("an older event put back in the queue (its socket died) still reaches the newest socket, after newer ones went out", async () => {
    const { AGENT_WS } = await import("../server/realtime/agent-socket.ts");
    const was = AGENT_WS.confirmAfterMs;
    AGENT_WS.confirmAfterMs = 60_000; // whatever the machine's pace, nothing is confirmed by time alone here
    try {
      const created = await person.createAgent({ name: "Two sockets" });
      const agent = await getAgent(server.ctx.db, created.id);
      const delivered = async () => ((await person.get(`/api/deliveries?status=delivered&agent_id=${created.id}`)).body as { message_id: string }[]).map((d) => d.message_id);
      const b = await connectAgent(server, created);
      const x = (await sendUserMessage(server.ctx, agent, "alice", "x")).message_id;
      await b.waitFor("user_message");
      await eventually(async () => (await delivered()).includes(x), 5000, "x marked delivered");
      const a = await connectAgent(server, created); // the newest: deliveries go here now
      const y = (await sendUserMessage(server.ctx, agent, "alice", "y")).message_id;
      expect((await a.waitFor("user_message")).message_id).toBe(y);
      (b.ws as WebSocket & { terminate(): void }).terminate(); // died without a sign of life since x: x goes back in the queue
      expect((await a.waitFor("user_message")).message_id).toBe(x);
      await eventually(async () => (await delivered()).includes(x) && (await delivered()).includes(y), 5000, "both marked delivered");
    } finally {
      AGENT_WS.confirmAfterMs = was;
    }
  });
});

describeSqlite("WAL checkpoints", async () => {
  const server = await startTestServer();
  const person = await owner(server);

  test("run off the event loop: the server's connection does not checkpoint, and what it commits reaches nod.db", async () => {
    const { statSync } = await import("node:fs");
    const path = await import("node:path");
    const db = writeDb(server.ctx).$client; // the connection that commits (and would checkpoint)
    await eventually(() => (db.query("PRAGMA wal_autocheckpoint").get() as { wal_autocheckpoint: number }).wal_autocheckpoint === 0, 5000, "the worker to take over");
    const file = path.join(server.dataDir, "nod.db");
    const before = statSync(file).size;
    const created = await person.createAgent({ name: "Writer" });
    const agent = await getAgent(server.ctx.db, created.id);
    // a few thousand pages' worth of messages, committed by the server's connection (each hundred in one batch)
    for (let i = 0; i < 20; i++) await Promise.all(Array.from({ length: 100 }, (_, k) => sendUserMessage(server.ctx, agent, "alice", `${i}/${k} ${"x".repeat(2000)}`)));
    await eventually(() => statSync(file).size > before + 4_000_000, 10_000, "the pages copied into nod.db");
  });
});
