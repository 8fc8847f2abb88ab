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

/** A second session of the owner (username alice), signed in on server s. */
async function signIn(s: NodServer, username: string) {
  const p = new Person(s.url);
  const r = await p.post("/api/auth/login", { username, password: "correct horse battery" });
  if (r.status !== 200) throw new Error(`login: ${r.status} ${JSON.stringify(r.body)}`);
  return p;
}
