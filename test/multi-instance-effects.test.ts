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
import { connectAgent, connectInbox } from "./ws-helpers.ts";
import { describePg, freshDatabase } from "./pg-helpers.ts";
import { decodeEffects, encodeEffects } from "../server/db/pg-fanout.ts";
import { emptyEffects } from "../server/db/unit-of-work.ts";
import { sql } from "drizzle-orm";

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

  test("a frame larger than a notification's 8,000 bytes arrives whole (through a row of effects)", async () => {
    const { onA } = await newAgent("Long on A");
    const inbox = await connectInbox(B, aliceOnB);
    const rowsBefore = A.cluster!.fanout.stats.rows;
    const text = "long ".repeat(4000); // 20,000 characters
    expect((await onA.event({ type: "message", text })).status).toBe(200);
    const f = await inbox.waitFor((f) => f.type === "message" && f.message?.text === text);
    expect(f.message.text.length).toBe(text.length);
    expect(A.cluster!.fanout.stats.rows).toBeGreaterThan(rowsBefore);
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
    await sA.close();
    await eventually(() => !B.live.agentSockets.elsewhere(created.id), undefined, "B hearing that A's socket closed");
    expect(await online(onB, created.id)).toBe(true);
    expect(await online(onA, created.id)).toBe(true);
    expect(inbox.all((f) => f.type === "agent_status" && f.agent_id === created.id && f.online === false)).toEqual([]);
    await sB.close();
    await inbox.waitFor((f) => f.type === "agent_status" && f.agent_id === created.id && f.online === false);
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

/** A second session of the owner (username alice), signed in on server s. */
async function signIn(s: NodServer, username: string) {
  const p = new Person(s.url);
  const r = await p.post("/api/auth/login", { username, password: "correct horse battery" });
  if (r.status !== 200) throw new Error(`login: ${r.status} ${JSON.stringify(r.body)}`);
  return p;
}
