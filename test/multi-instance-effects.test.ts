// Two nod servers of this process on one PostgreSQL database, as two instances
// behind a load balancer: what one commits reaches the other's sockets, loops
// and caches (server/db/pg-fanout.ts, server/cluster.ts). Real processes are
// in multi-instance.test.ts.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AgentClient, eventually, owner, Person } from "./helpers.ts";
import { startServer, type NodServer } from "../server/app.ts";
import { makeConfig } from "../server/config.ts";
import { Logger } from "../server/lib/log.ts";
import { connectAgent, connectInbox, webhookReceiver, type Frame } from "./ws-helpers.ts";
import { standInPushService } from "./push-service.ts";
import { describePg, freshDatabase } from "./pg-helpers.ts";
import { decodeEffects, encodeEffects, envelopes, MAX_INLINE_BYTES } from "../server/db/pg-fanout.ts";
import { emptyEffects } from "../server/db/unit-of-work.ts";
import { sql } from "drizzle-orm";
import { SQL } from "bun";
import { PG_LOCKS } from "../server/db/locks.ts";

setDefaultTimeout(60_000); // a hang guard (two servers, a database), never a time check

/** A server of this process on the database (its own data directory, a free port); stopped by the caller. */
async function instanceOn(databaseUrl: string): Promise<NodServer & { dir: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), "nod-multi-"));
  const s = await startServer(makeConfig({ port: 0, host: "127.0.0.1", logLevel: "error", databaseUrl, dataDir: dir }), { log: new Logger("error") });
  return Object.assign(s, { dir });
}

test("effects travel as JSON: only what is set, back as the same effects", () => {
  expect(encodeEffects(emptyEffects())).toBeNull();
  const e = emptyEffects();
  e.inbox.push({ type: "message", message: { id: "msg_1" } });
  e.deliver.add("agt_1");
  e.settled.push("dec_1");
  e.closeSessions.push("hash");
  e.tasksChanged = true;
  e.forget.push({ cache: "agents", key: "agt_1" });
  const shared = encodeEffects(e)!;
  expect(Object.keys(shared).sort()).toEqual(["closeSessions", "deliver", "forget", "inbox", "settled", "tasks"]);
  expect(decodeEffects(JSON.parse(JSON.stringify(shared)))).toEqual(e);
});

test("a batch's frames too many for one notification are spread over several, in order; the rest rides with the first; one long frame goes alone", () => {
  const e = emptyEffects();
  const frames = Array.from({ length: 40 }, (_, i) => ({ type: "message", message: { id: `msg_${i}`, text: "x".repeat(500) } }));
  e.inbox.push(...frames);
  e.deliver.add("agt_1");
  e.forget.push({ cache: "agents", key: "agt_1" });
  const bodies = envelopes("ins_1", encodeEffects(e)!);
  expect(bodies.length).toBeGreaterThan(2);
  for (const b of bodies) expect(Buffer.byteLength(b)).toBeLessThanOrEqual(MAX_INLINE_BYTES);
  const parsed = bodies.map((b) => JSON.parse(b));
  expect(parsed.every((p) => p.from === "ins_1")).toBe(true);
  expect(parsed.flatMap((p) => p.e.inbox)).toEqual(frames);
  expect(decodeEffects(parsed[0].e).deliver).toEqual(new Set(["agt_1"]));
  expect(decodeEffects(parsed[0].e).forget).toEqual([{ cache: "agents", key: "agt_1" }]);
  for (const p of parsed.slice(1)) expect(Object.keys(p.e)).toEqual(["inbox"]);

  const long = emptyEffects();
  long.inbox.push(frames[0]!, { type: "message", message: { id: "msg_long", text: "y".repeat(9_000) } }, frames[1]!);
  const sizes = envelopes("ins_1", encodeEffects(long)!).map((b) => Buffer.byteLength(b) > MAX_INLINE_BYTES);
  expect(sizes).toEqual([false, true, false]); // the long one alone, as a row; the others inline
});

describePg("two instances on one database", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let A: NodServer & { dir: string };
  let B: NodServer & { dir: string };
  let alice: Person; // signed in; the same cookie on both
  let aliceOnB: Person;

  beforeAll(async () => {
    db = await freshDatabase();
    A = await instanceOn(db.url);
    B = await instanceOn(db.url);
    alice = await owner(A);
    aliceOnB = new Person(B.url);
    aliceOnB.cookie = alice.cookie;
  });
  afterAll(async () => {
    for (const s of [A, B]) {
      await s?.stop();
      if (s) rmSync(s.dir, { recursive: true, force: true });
    }
    await db?.drop();
  });

  const newAgent = async (name: string) => {
    const c = await alice.createAgent({ name });
    return { created: c, onA: new AgentClient(A.url, c.id, c.secret), onB: new AgentClient(B.url, c.id, c.secret) };
  };

  test("each instance has its own id", () => {
    expect(A.cluster?.instanceId).toMatch(/^ins_/);
    expect(B.cluster?.instanceId).toMatch(/^ins_/);
    expect(A.cluster!.instanceId).not.toBe(B.cluster!.instanceId);
  });

  test("a person's message sent through B reaches the agent's socket on A", async () => {
    const { created } = await newAgent("Socket on A");
    const sock = await connectAgent(A, created);
    const sent = await aliceOnB.post(`/api/agents/${created.id}/messages`, { text: "via B" });
    expect(sent.status).toBe(201);
    expect(await sock.waitFor("user_message")).toMatchObject({ text: "via B", message_id: sent.body.message_id });
    await sock.close();
  });

  test("an inbox on B sees the frames of events posted to A, in order", async () => {
    const { onA } = await newAgent("Talks on A");
    const inbox = await connectInbox(B, aliceOnB);
    for (const text of ["one", "two", "three"]) expect((await onA.event({ type: "message", text })).status).toBe(200);
    const texts = async () => inbox.all((f) => f.type === "message" && f.message?.role !== "user").map((f) => f.message.text);
    await eventually(async () => (await texts()).length === 3, undefined, "three message frames on B");
    expect(await texts()).toEqual(["one", "two", "three"]);
  });

  test("40 messages posted to A at once: an inbox on B sees each, in the order an inbox on A does, with no row of effects", async () => {
    const { onA } = await newAgent("Busy on A");
    const [inboxA, inboxB] = [await connectInbox(A, alice), await connectInbox(B, aliceOnB)];
    const rowsBefore = A.cluster!.fanout.stats.rows;
    const texts = Array.from({ length: 40 }, (_, i) => `${i} ${"words ".repeat(100)}`);
    for (const r of await Promise.all(texts.map((text) => onA.event({ type: "message", text })))) expect(r.status).toBe(200);
    const seen = (inbox: typeof inboxA) => inbox.all((f) => f.type === "message" && texts.includes(f.message?.text)).map((f) => f.message.id);
    await eventually(async () => seen(inboxB).length === 40, undefined, "40 message frames on B");
    await eventually(async () => seen(inboxA).length === 40, undefined, "40 message frames on A");
    expect(seen(inboxB)).toEqual(seen(inboxA));
    expect(A.cluster!.fanout.stats.rows).toBe(rowsBefore);
  });

  test("a frame larger than a notification's 8,000 bytes arrives whole (through a row of effects)", async () => {
    const { onA } = await newAgent("Long on A");
    const inbox = await connectInbox(B, aliceOnB);
    const rowsBefore = A.cluster!.fanout.stats.rows;
    const text = "long ".repeat(4000); // 20,000 characters
    expect((await onA.event({ type: "message", text })).status).toBe(200);
    const f = await inbox.waitFor((f) => f.type === "message" && f.message?.text === text);
    expect(f.message.text.length).toBe(text.length);
    expect(A.cluster!.fanout.stats.rows).toBeGreaterThan(rowsBefore);
    // Rows every instance has had time to read are pruned; newer ones stay.
    const count = async () => ((await (A.ctx.db as any).execute(sql`SELECT count(*)::int AS n FROM effects`)) as { n: number }[])[0]!.n;
    expect(await count()).toBeGreaterThan(0);
    await A.cluster!.fanout.prune();
    expect(await count()).toBeGreaterThan(0);
    await (A.ctx.db as any).execute(sql`UPDATE effects SET created_at = now() - interval '10 minutes'`);
    await A.cluster!.fanout.prune();
    expect(await count()).toBe(0);
  });

  test("announced frames reach the other instance: an agent's socket on A shows it online in B's inbox", async () => {
    const { created } = await newAgent("Online on A");
    const inbox = await connectInbox(B, aliceOnB);
    const sock = await connectAgent(A, created);
    expect(await inbox.waitFor((f) => f.type === "agent_status" && f.agent_id === created.id)).toMatchObject({ online: true });
    await sock.close();
    expect(await inbox.waitFor((f) => f.type === "agent_status" && f.agent_id === created.id)).toMatchObject({ online: false });
  });

  test("a secret rotated through B: A refuses the old one (its kept agent dropped) and closes the agent's socket", async () => {
    const { created, onA } = await newAgent("Rotated on B");
    expect((await onA.event({ type: "message", text: "kept on A" })).status).toBe(200); // A keeps the agent now
    const sock = await connectAgent(A, created);
    const rotated = await aliceOnB.post(`/api/agents/${created.id}/secret`);
    expect(rotated.status).toBe(200);
    expect((await sock.closed).code).toBe(4003);
    await eventually(async () => (await onA.event({ type: "message", text: "old secret" })).status === 401, undefined, "A refusing the old secret");
    const fresh = new AgentClient(A.url, created.id, rotated.body.secret);
    expect((await fresh.event({ type: "message", text: "new secret" })).status).toBe(200);
  });

  test("after the connection that hears the others dropped and came back, an open inbox gets a new hello (it refetches what it missed)", async () => {
    const inbox = await connectInbox(B, aliceOnB);
    await (A.ctx.db as any).execute(sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'`);
    await inbox.waitFor("hello");
    // And it hears the others again.
    const { onA } = await newAgent("After the gap");
    expect((await onA.event({ type: "message", text: "heard again" })).status).toBe(200);
    await inbox.waitFor((f) => f.type === "message" && f.message?.text === "heard again");
  });

  test("signing out through B closes the person's inbox on A, and A refuses the cookie", async () => {
    const bob = await signIn(A, "alice");
    const inbox = await connectInbox(A, bob);
    expect((await bob.get("/api/agents")).status).toBe(200); // A keeps the session now
    const bobOnB = new Person(B.url);
    bobOnB.cookie = bob.cookie;
    expect((await bobOnB.post("/api/auth/logout")).status).toBeLessThan(300);
    expect((await inbox.closed).code).toBe(4401);
    await eventually(async () => (await bob.get("/api/agents")).status === 401, undefined, "A refusing the signed-out cookie");
  });
});

describePg("presence shared by three instances", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let A: NodServer & { dir: string };
  let B: NodServer & { dir: string };
  let C: NodServer & { dir: string };
  let onA: Person;
  let onB: Person;

  beforeAll(async () => {
    db = await freshDatabase();
    [A, B, C] = [await instanceOn(db.url), await instanceOn(db.url), await instanceOn(db.url)];
    onA = await owner(A);
    onB = new Person(B.url);
    onB.cookie = onA.cookie;
  });
  afterAll(async () => {
    for (const s of [A, B, C]) {
      await s?.stop();
      if (s) rmSync(s.dir, { recursive: true, force: true });
    }
    await db?.drop();
  });

  const online = async (p: Person, id: string) => (await p.get(`/api/agents/${id}`)).body.online as boolean;

  test("an agent with a socket on A is online on B (the people's API, a new inbox's hello), and offline there once it closes", async () => {
    const created = await onA.createAgent({ name: "Seen from B" });
    const sock = await connectAgent(A, created);
    await eventually(() => online(onB, created.id), undefined, "online on B");
    expect((await connectInbox(B, onB)).hello.online).toContain(created.id);
    await sock.close();
    await eventually(async () => !(await online(onB, created.id)), undefined, "offline on B");
    expect((await connectInbox(B, onB)).hello.online).not.toContain(created.id);
  });

  test("with sockets on A and B, closing A's leaves it online: no offline frame", async () => {
    const created = await onA.createAgent({ name: "Two sockets" });
    const inbox = await connectInbox(B, onB);
    const sA = await connectAgent(A, created);
    const sB = await connectAgent(B, created);
    await eventually(() => A.live.agentSockets.elsewhere(created.id), undefined, "A knowing of B's socket");
    await eventually(() => B.live.agentSockets.elsewhere(created.id), undefined, "B knowing of A's socket");
    await sA.close();
    await eventually(() => !B.live.agentSockets.elsewhere(created.id), undefined, "B hearing that A's socket closed");
    expect(await online(onB, created.id)).toBe(true);
    expect(await online(onA, created.id)).toBe(true);
    expect(inbox.all((f) => f.type === "agent_status" && f.agent_id === created.id && f.online === false)).toEqual([]);
    await sB.close();
    await inbox.waitFor((f) => f.type === "agent_status" && f.agent_id === created.id && f.online === false);
  });

  test("last sockets on A and B closing at once, each instance still knowing of the other's: every inbox hears the agent went offline", async () => {
    const created = await onA.createAgent({ name: "Closed at once" });
    const [inboxA, inboxB, inboxC] = [await connectInbox(A, onA), await connectInbox(B, onB), await connectInbox(C, onB)];
    const sB = await connectAgent(B, created);
    await eventually(() => A.live.agentSockets.elsewhere(created.id), undefined, "A knowing of B's socket");
    const agentOnB = new AgentClient(B.url, created.id, created.secret);
    const conversation_id = (await agentOnB.event({ type: "message", text: "on it" })).body.conversation_id;
    expect((await agentOnB.event({ type: "processing_start", conversation_id, status_text: "Reading" })).status).toBe(200);
    // A socket on A that has just closed, its close not heard by B yet: B still counts it.
    const onAside = { agentId: created.id, sessionId: "sess_closing", instanceId: A.cluster!.instanceId };
    await A.ctx.writer.now(async (uow) => uow.socketChanged({ ...onAside, openedAt: Date.now() }));
    await eventually(() => B.live.agentSockets.elsewhere(created.id), undefined, "B knowing of A's socket");
    await sB.close(); // B tells nobody (A has one, as far as it knows); A hears the close and sees no socket left
    const offline = (f: Frame) => f.type === "agent_status" && f.agent_id === created.id && f.online === false;
    await inboxA.waitFor(offline);
    expect(inboxB.all(offline)).toEqual([]);
    expect(inboxC.all(offline)).toEqual([]); // C still knows of A's
    // A's close reaches B and C, saying A told nobody either (it knew of B's socket).
    await A.ctx.writer.now(async (uow) => uow.socketChanged({ ...onAside, openedAt: null, unannounced: true }));
    await inboxB.waitFor(offline);
    await inboxC.waitFor(offline);
    expect(await online(onB, created.id)).toBe(false);
    expect([inboxA, inboxB, inboxC].map((i) => i.all(offline).length)).toEqual([1, 1, 1]);
    // Its "Thinking…" (started through B, 30 s to live) ended with it, as when its last socket closes.
    for (const s of [A, B, C]) expect((await connectInbox(s, onB)).hello.processing.filter((p: Frame) => p.agent_id === created.id)).toEqual([]);
  });

  test("a socket write that never reached the table is put right by the holder's next heartbeat", async () => {
    const created = await onA.createAgent({ name: "Lost writes" });
    const sock = await connectAgent(A, created);
    await eventually(() => B.live.agentSockets.elsewhere(created.id), undefined, "B knowing of A's socket");
    const db = A.ctx.db as any;
    // Its open lost: the row is gone, B is told so as a dead instance's reaper would.
    await db.execute(sql`DELETE FROM agent_sockets WHERE session_id = ${sock.authOk.session_id}`);
    B.live.agentSockets.remoteChanged([{ agentId: created.id, sessionId: sock.authOk.session_id, instanceId: A.cluster!.instanceId, openedAt: null }]);
    expect(B.live.agentSockets.elsewhere(created.id)).toBe(false);
    await A.cluster!.beat();
    await eventually(() => B.live.agentSockets.elsewhere(created.id), undefined, "B hearing of A's socket again");
    // A close lost: a row of a socket A does not hold (it closed while the database was away).
    await db.execute(sql`INSERT INTO agent_sockets (session_id, agent_id, instance_id, opened_at) VALUES ('sess_lost', ${created.id}, ${A.cluster!.instanceId}, 1)`);
    B.live.agentSockets.remoteChanged([{ agentId: created.id, sessionId: "sess_lost", instanceId: A.cluster!.instanceId, openedAt: 1 }]);
    await sock.close();
    expect(await online(onB, created.id)).toBe(true); // B still counts the lost one
    await A.cluster!.beat();
    await eventually(async () => !(await online(onB, created.id)), undefined, "offline on B");
    expect((await db.execute(sql`SELECT count(*)::int AS n FROM agent_sockets WHERE agent_id = ${created.id}`))[0].n).toBe(0);
  });

  test("the newest socket receives events, on whichever instance it is; when it closes, the older one does again", async () => {
    const created = await onA.createAgent({ name: "Newest wins" });
    const older = await connectAgent(A, created);
    const newer = await connectAgent(B, created);
    await eventually(() => A.live.agentSockets.elsewhere(created.id), undefined, "A knowing of B's socket");
    await onA.post(`/api/agents/${created.id}/messages`, { text: "to the newest" });
    expect((await newer.waitFor("user_message")).text).toBe("to the newest");
    await newer.close();
    await onA.post(`/api/agents/${created.id}/messages`, { text: "to the older" });
    expect((await older.waitFor("user_message")).text).toBe("to the older");
    expect(older.all("user_message").map((f) => f.text)).toEqual(["to the older"]);
    expect(newer.all("user_message").map((f) => f.text)).toEqual(["to the newest"]);
  });

  test("an agent \"Thinking…\" through A shows in the hello of a new inbox on B, and no longer once it stopped", async () => {
    const created = await onA.createAgent({ name: "Thinks on A" });
    const agent = new AgentClient(A.url, created.id, created.secret);
    const m = await agent.event({ type: "message", text: "on it" });
    const conversation_id = m.body.conversation_id;
    expect((await agent.event({ type: "processing_start", conversation_id, status_text: "Reading" })).status).toBe(200);
    const hello = async () => (await connectInbox(B, onB)).hello.processing as { agent_id: string; status_text: string }[];
    await eventually(async () => (await hello()).some((p) => p.agent_id === created.id && p.status_text === "Reading"), undefined, "Thinking… in B's hello");
    expect((await agent.event({ type: "processing_stop", conversation_id })).status).toBe(200);
    await eventually(async () => !(await hello()).some((p) => p.agent_id === created.id), undefined, "no Thinking… in B's hello");
  });

  test("an instance that stops beating is removed by a live one: its agents show offline; when it beats again it is back with them", async () => {
    const created = await onA.createAgent({ name: "Held by C" });
    const inbox = await connectInbox(B, onB);
    const sock = await connectAgent(C, created);
    await eventually(() => online(onB, created.id), undefined, "online on B");
    // C's heartbeat an hour old: A's next beat takes it for dead.
    await (A.ctx.db as any).execute(sql`UPDATE instances SET heartbeat_at = now() - interval '1 hour' WHERE id = ${C.cluster!.instanceId}`);
    await A.cluster!.beat();
    await inbox.waitFor((f) => f.type === "agent_status" && f.agent_id === created.id && f.online === false);
    await eventually(async () => !(await online(onB, created.id)), undefined, "offline on B");
    expect(await online(onA, created.id)).toBe(false);
    await C.cluster!.beat(); // its row is gone: it writes itself and its socket down again
    await eventually(() => online(onB, created.id), undefined, "online on B again");
    await sock.close();
  });
});

describePg("delivery exactly once over two instances", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let A: NodServer & { dir: string };
  let B: NodServer & { dir: string };
  let onA: Person;
  let onB: Person;

  beforeAll(async () => {
    db = await freshDatabase();
    [A, B] = [await instanceOn(db.url), await instanceOn(db.url)];
    onA = await owner(A);
    onB = new Person(B.url);
    onB.cookie = onA.cookie;
  });
  afterAll(async () => {
    for (const s of [A, B]) {
      await s?.stop();
      if (s) rmSync(s.dir, { recursive: true, force: true });
    }
    await db?.drop();
  });

  test("a webhook agent gets each event once, in order, when people write to it through both instances", async () => {
    const hook = await webhookReceiver();
    const created = await onA.createAgent({ name: "Hooked", webhook_url: hook.url });
    const texts = Array.from({ length: 30 }, (_, i) => `m${i}`);
    // Both at once, each in order: the lanes of both instances wake for the same agent.
    await Promise.all([
      (async () => {
        for (const t of texts.filter((_, i) => i % 2 === 0)) expect((await onA.post(`/api/agents/${created.id}/messages`, { text: t })).status).toBe(201);
      })(),
      (async () => {
        for (const t of texts.filter((_, i) => i % 2 === 1)) expect((await onB.post(`/api/agents/${created.id}/messages`, { text: t })).status).toBe(201);
      })(),
    ]);
    await hook.waitFor(texts.length);
    await hook.expectNone(500);
    const got = hook.received.map((r) => r.json);
    expect(new Set(got.map((j) => j.event_id)).size).toBe(texts.length);
    expect(got.map((j) => j.text).sort()).toEqual([...texts].sort());
    // Oldest first within each instance's own order.
    const order = got.map((j) => j.text as string);
    for (const own of [texts.filter((_, i) => i % 2 === 0), texts.filter((_, i) => i % 2 === 1)]) expect(order.filter((t) => own.includes(t))).toEqual(own);
  });

  test("an agent with a socket on A gets no webhook POST for an event through B: the socket has it", async () => {
    const hook = await webhookReceiver();
    const created = await onA.createAgent({ name: "Socket and hook", webhook_url: hook.url });
    const sock = await connectAgent(A, created);
    await eventually(() => B.live.agentSockets.elsewhere(created.id), undefined, "B knowing of A's socket");
    await onB.post(`/api/agents/${created.id}/messages`, { text: "socket, not hook" });
    expect((await sock.waitFor("user_message")).text).toBe("socket, not hook");
    await Bun.sleep(500); // a POST B would make has had time to arrive
    expect(hook.received.map((r) => r.json.text)).toEqual([]);
    await sock.close();
  });

  test("B, which found no device for a message, pushes the next one to a device that subscribed through A", async () => {
    const key = (await onA.get("/api/push/key")).body.public_key as string;
    const push = await standInPushService(() => key);
    const created = await onA.createAgent({ name: "Pushy" });
    const onBAgent = new AgentClient(B.url, created.id, created.secret);
    expect((await onBAgent.event({ type: "message", text: "nobody to tell" })).status).toBe(200);
    expect((await onA.post("/api/push/subscriptions", { ...push.device("first"), name: "first" })).status).toBe(201);
    const m = await onBAgent.event({ type: "message", text: "now somebody" });
    const d = await push.until((all) => all.find((x) => x.payload.message_id === m.body.message_id));
    expect(d.payload.body).toBe("now somebody");
    expect(push.received.some((x) => x.payload.body === "nobody to tell")).toBe(false);
    expect(push.errors).toEqual([]);
  });

  test("each queued push goes to its device once, though both instances' push senders look at the queue", async () => {
    const key = (await onA.get("/api/push/key")).body.public_key as string;
    expect((await onB.get("/api/push/key")).body.public_key).toBe(key); // one key pair for the database
    const push = await standInPushService(() => key);
    const names = Array.from({ length: 20 }, (_, i) => `device-${i}`);
    for (const name of names) expect((await onA.post("/api/push/subscriptions", { ...push.device(name), name })).status).toBe(201);
    for (let round = 1; round <= 3; round++) {
      expect((await (round % 2 ? onA : onB).post("/api/push/test")).status).toBe(202);
      await push.until((r) => names.every((n) => push.shown(n).length >= round), `round ${round} on every device`);
    }
    await Bun.sleep(500); // a second sending of any of them has had time to arrive
    for (const n of names) expect(push.shown(n).length).toBe(3);
    expect(push.errors).toEqual([]);
  });

  test("a webhook lane held by another instance waits for it; when that one dies, the lane passes on at once", async () => {
    const hook = await webhookReceiver();
    const created = await onA.createAgent({ name: "Lane passes", webhook_url: hook.url });
    // Another instance holds the lane (for an hour): no POST from A or B meanwhile.
    const run = (q: ReturnType<typeof sql>) => (A.ctx.db as any).execute(q);
    await run(sql`INSERT INTO instances (id, name, started_at, heartbeat_at) VALUES ('ins_other', 'other', now(), now())`);
    await run(sql`INSERT INTO delivery_lanes (agent_id, instance_id, until) VALUES (${created.id}, 'ins_other', now() + interval '1 hour')`);
    await onB.post(`/api/agents/${created.id}/messages`, { text: "waits for the lane" });
    await Bun.sleep(300);
    expect(hook.received).toEqual([]);
    // It dies (no heartbeat for an hour): the next beat removes it, and its lease with it.
    await run(sql`UPDATE instances SET heartbeat_at = now() - interval '1 hour' WHERE id = 'ins_other'`);
    await B.cluster!.beat();
    const [got] = await hook.waitFor(1);
    expect(got!.json.text).toBe("waits for the lane");
  });
});

describePg("setup on two instances at once", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let A: NodServer & { dir: string };
  let B: NodServer & { dir: string };
  beforeAll(async () => {
    db = await freshDatabase();
    [A, B] = [await instanceOn(db.url), await instanceOn(db.url)];
  });
  afterAll(async () => {
    for (const s of [A, B]) {
      await s?.stop();
      if (s) rmSync(s.dir, { recursive: true, force: true });
    }
    await db?.drop();
  });

  test("one owner: a setup that runs while another instance's setup is committing waits for it, then is refused (409)", async () => {
    // The other instance's setup, held open between its insert and its COMMIT.
    const other = new SQL(db.url, { max: 1 });
    let commit = () => {};
    const held = new Promise<void>((r) => (commit = r));
    let inserted = () => {};
    const insertedYet = new Promise<void>((r) => (inserted = r));
    const otherSetup = other.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${PG_LOCKS.setup}::bigint)`;
      await tx`INSERT INTO users (id, username, password_hash, created_at) VALUES ('usr_other', 'bert', 'x', '2030-01-01T00:00:00.000Z')`;
      inserted();
      await held;
    });
    await insertedYet;
    const mine = new Person(A.url).post("/api/auth/setup", { username: "anna", password: "correct horse battery" });
    await Bun.sleep(300); // the setup has hashed and reached its check
    commit();
    await otherSetup;
    await other.close();
    expect((await mine).status).toBe(409);
    expect((await new Person(A.url).post("/api/auth/login", { username: "anna", password: "correct horse battery" })).status).toBe(401);
  });
});

/** A second session of the owner (username alice), signed in on server s. */
async function signIn(s: NodServer, username: string) {
  const p = new Person(s.url);
  const r = await p.post("/api/auth/login", { username, password: "correct horse battery" });
  if (r.status !== 200) throw new Error(`login: ${r.status} ${JSON.stringify(r.body)}`);
  return p;
}
