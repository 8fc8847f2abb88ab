// Three real `nod serve` processes on one fresh PostgreSQL database, as behind
// a load balancer (API.md "Running on PostgreSQL, several instances"): events
// cross instances, each due run is created once, each event is delivered by
// one instance, and an instance killed mid-flow loses nothing it acknowledged.
// (Two servers of one process, closer up: multi-instance-effects.test.ts.)
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AgentClient, eventually, Person } from "./helpers.ts";
import { connectAgent, connectInbox, webhookReceiver, type AgentSocketClient } from "./ws-helpers.ts";
import { describePg, freshDatabase } from "./pg-helpers.ts";
import { spawnNod, type NodProcess } from "./cli-util.ts";

setDefaultTimeout(120_000); // a hang guard (three processes, a database), never a time check

interface Instance {
  url: string;
  nod: NodProcess;
  dir: string;
}

async function startInstance(databaseUrl: string, name: string): Promise<Instance> {
  const dir = mkdtempSync(path.join(tmpdir(), "nod-multi-proc-"));
  const nod = spawnNod(["serve", "--database", databaseUrl, "--port", "0", "--host", "127.0.0.1", "--data", dir, "--log-level", "warn", "--instance", name]);
  const m = await nod.waitForOutput(/listening on (http:\/\/127\.0\.0\.1:\d+)/, 60_000);
  return { url: m[1]!, nod, dir };
}

describePg("three nod processes on one database", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let nods: Instance[] = [];
  let people: Person[] = []; // the owner, signed in, through each instance

  beforeAll(async () => {
    db = await freshDatabase();
    // Started together: they migrate the fresh database once (the advisory lock) and all join.
    nods = await Promise.all(["nod1", "nod2", "nod3"].map((n) => startInstance(db.url, n)));
    const first = new Person(nods[0]!.url);
    const setup = await first.post("/api/auth/setup", { username: "alice", password: "correct horse battery" });
    if (setup.status !== 201) throw new Error(`setup: ${setup.status} ${JSON.stringify(setup.body)}`);
    people = nods.map((n) => Object.assign(new Person(n.url), { cookie: first.cookie }));
  });
  afterAll(async () => {
    for (const n of nods) {
      n.nod.proc.kill("SIGTERM");
      await n.nod.done;
      rmSync(n.dir, { recursive: true, force: true });
    }
    await db?.drop();
  });

  const agentNamed = async (name: string, body: Record<string, unknown> = {}) => people[0]!.createAgent({ name, ...body });

  test("an agent socket on instance 1 receives a person's message sent through instance 2", async () => {
    const created = await agentNamed("Socket on 1");
    const sock = await connectAgent(nods[0]!, created);
    const sent = await people[1]!.post(`/api/agents/${created.id}/messages`, { text: "through 2" });
    expect(sent.status).toBe(201);
    expect(await sock.waitFor("user_message")).toMatchObject({ text: "through 2", message_id: sent.body.message_id });
    await sock.close();
  });

  test("an inbox socket on instance 3 sees an agent event posted to instance 1", async () => {
    const created = await agentNamed("Talks to 1");
    const inbox = await connectInbox(nods[2]!, people[2]!);
    const posted = await new AgentClient(nods[0]!.url, created.id, created.secret).event({ type: "message", text: "posted to 1" });
    expect(posted.status).toBe(200);
    const f = await inbox.waitFor((f) => f.type === "message" && f.message?.agent_id === created.id);
    expect(f.message).toMatchObject({ id: posted.body.message_id, text: "posted to 1" });
  });

  test("a long-poll on instance 1 answers when the request is answered through instance 2", async () => {
    const created = await agentNamed("Waits on 1");
    const agent = new AgentClient(nods[0]!.url, created.id, created.secret);
    const id = (await agent.event({ type: "decision", kind: "approval", title: "Ship?", description: "" })).body.decision_id as string;
    const waiting = agent.get(`/api/agent/decisions/${id}?wait=60`); // longer than the guard: only the answer ends it in time
    await Bun.sleep(200);
    expect((await people[1]!.post(`/api/decisions/${id}/respond`, { status: "approved", note: "go" })).status).toBe(200);
    expect((await waiting).body).toMatchObject({ decision_id: id, status: "approved", note: "go" });
  });

  test("a per-second cron task over three instances creates each run once", async () => {
    const created = await agentNamed("Every second");
    const task = await people[0]!.post(`/api/agents/${created.id}/tasks`, { name: "Tick", prompt: "tick", schedule: "* * * * * *" });
    expect(task.status).toBe(201);
    const runs = async () => ((await people[1]!.get(`/api/tasks/${task.body.id}/runs?limit=100`)).body as { created_at: string; trigger: string }[]).filter((r) => r.trigger === "schedule");
    await eventually(async () => (await runs()).length >= 5, undefined, "five scheduled runs");
    expect((await people[2]!.patch(`/api/tasks/${task.body.id}`, { enabled: false })).status).toBe(200);
    const all = await runs();
    // One run per slot: every run in a second of its own (a slot fired twice would share its second).
    const seconds = all.map((r) => r.created_at.slice(0, 19));
    expect(new Set(seconds).size).toBe(seconds.length);
  });

  test("a webhook agent gets each event once when events are posted to all three instances", async () => {
    const hook = await webhookReceiver();
    const created = await agentNamed("Hooked", { webhook_url: hook.url });
    const texts = nods.map((_, i) => Array.from({ length: 10 }, (_, j) => `i${i}-m${j}`));
    await Promise.all(
      texts.map(async (own, i) => {
        for (const text of own) expect((await people[i]!.post(`/api/agents/${created.id}/messages`, { text })).status).toBe(201);
      }),
    );
    await hook.waitFor(30);
    await Bun.sleep(1_000); // a second POST of any of them has had time to arrive
    const got = hook.received.map((r) => r.json);
    expect(got.length).toBe(30);
    expect(new Set(got.map((j) => j.event_id)).size).toBe(30);
    expect(got.map((j) => j.text).sort()).toEqual(texts.flat().sort());
    // Oldest first: each instance's own messages arrive in the order it acknowledged them.
    for (const own of texts) expect(got.map((j) => j.text).filter((t) => own.includes(t))).toEqual(own);
  });

  test("SIGKILL of an instance while events flow: nothing acknowledged is lost; its agent reconnects to another and gets the replay", async () => {
    const created = await agentNamed("Held by 3");
    const received = new Set<string>(); // message ids the agent got, on any socket
    const sockets: AgentSocketClient[] = [];
    const collect = (s: AgentSocketClient) => {
      sockets.push(s);
      s.ws.addEventListener("message", (e) => {
        const f = JSON.parse(String(e.data));
        if (f.type === "user_message") received.add(f.message_id);
      });
      for (const f of s.frames) if (f.type === "user_message") received.add(f.message_id);
    };
    const first = await connectAgent(nods[2]!, created, { keep: true });
    collect(first);
    // When its socket drops, the agent connects to instance 1 (as it would through a load balancer).
    const reconnected = first.closed.then(async () => {
      const s = await connectAgent(nods[0]!, created);
      collect(s);
      return s;
    });
    const acked: string[] = [];
    const killed = nods[2]!;
    for (let i = 0; i < 60; i++) {
      if (i === 20) killed.nod.proc.kill("SIGKILL");
      const res = await people[i % 2]!.post(`/api/agents/${created.id}/messages`, { text: `flow ${i}` });
      if (res.status === 201) acked.push(res.body.message_id);
      await Bun.sleep(20);
    }
    expect(acked.length).toBe(60); // instances 1 and 2 answered every one
    expect((await killed.nod.done).exitCode).not.toBe(0);
    await reconnected;
    await eventually(() => acked.every((id) => received.has(id)), undefined, "every acknowledged message at the agent");
    nods = nods.filter((n) => n !== killed);
    rmSync(killed.dir, { recursive: true, force: true });
    for (const s of sockets) s.ws.close();
  });
});
