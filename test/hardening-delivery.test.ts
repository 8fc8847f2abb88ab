// Hardening of the delivery path and the indicator events:
// - "Thinking…" events (processing_start/stop, agent_heartbeat, agent_idle)
//   naming another agent's conversation, or none that exists, answer 404.
// - An event pushed over a socket whose reader stalled counts as delivered
//   only once it has left the process: a SIGKILL loses none of them.
// - Hundreds of webhook receivers that never answer do not hold up another
//   agent's webhook (Bun's fetch connection limit, slots that give way).
import { afterAll, describe, expect, test } from "bun:test";
import type { ServerWebSocket } from "bun";
import net from "node:net";
import { AgentClient, Person, eventually, owner, startTestServer, tempDir, twoAgents } from "./helpers.ts";
import { spawnNod } from "./cli-util.ts";
import { sendUserMessage } from "../server/conversations/service.ts";
import { getAgent } from "../server/agents/service.ts";
import { PostSlots, type Slot, type Standing } from "../server/delivery/slots.ts";
import { connectAgent, connectInbox, webhookReceiver } from "./ws-helpers.ts";

describe("indicator events check the conversation they name", async () => {
  const server = await startTestServer();
  const { person, cA, cB, A, B } = await twoAgents(server);
  const own = (await A.event({ type: "message", text: "A's" })).body.conversation_id as string;
  const foreign = (await B.event({ type: "message", text: "B's" })).body.conversation_id as string;
  const unknown = "conv_00000000000000000000";

  test("REST: own conversation ok; foreign or unknown → 404 {detail}, and the inbox sees no indicator", async () => {
    const inbox = await connectInbox(server, person);
    for (const type of ["processing_start", "processing_stop"]) {
      expect((await A.event({ type, conversation_id: own })).body).toEqual({ status: "ok" });
      for (const conversation_id of [foreign, unknown]) {
        const r = await A.event({ type, conversation_id });
        expect({ type, conversation_id, status: r.status, body: r.body }).toEqual({ type, conversation_id, status: 404, body: { detail: "conversation not found" } });
      }
    }
    // the own conversation's indicator went on and off; nothing was shown for the others
    // (a last indicator of its own marks the end: frames arrive in order)
    expect((await A.event({ type: "processing_start", conversation_id: own })).status).toBe(200);
    await inbox.waitFor((f) => f.type === "processing" && f.conversation_id === own && f.active);
    await inbox.waitFor((f) => f.type === "processing" && f.conversation_id === own && !f.active);
    await inbox.waitFor((f) => f.type === "processing" && f.conversation_id === own && f.active);
    const shown = inbox.all("processing").map((f) => [f.conversation_id, f.active]);
    expect(shown).toEqual([
      [own, true],
      [own, false],
      [own, true],
    ]);
    expect((await A.event({ type: "processing_stop", conversation_id: own })).status).toBe(200);
  });

  test("WebSocket: own conversation acked; foreign or unknown → error frame with code 404, the socket stays open", async () => {
    const inbox = await connectInbox(server, person);
    const a = await connectAgent(server, cA);
    for (const type of ["processing_start", "agent_heartbeat", "agent_idle", "processing_stop"]) {
      expect(await a.request({ type, conversation_id: own })).toMatchObject({ type: "ack", status: "ok" });
      for (const conversation_id of [foreign, unknown]) {
        const r = await a.request({ type, conversation_id });
        expect({ type, conversation_id, r }).toMatchObject({ type, conversation_id, r: { type: "error", detail: "conversation not found", code: 404 } });
      }
    }
    // a heartbeat without request_id is quiet when fine, but a bad one still gets its error frame
    a.send({ type: "agent_heartbeat", conversation_id: foreign });
    expect(await a.waitFor("error")).toMatchObject({ detail: "conversation not found", code: 404 });
    a.send({ type: "ping" });
    await a.waitFor("pong"); // still open and answering
    await a.request({ type: "agent_idle", conversation_id: own });
    expect(inbox.all("processing").every((f) => f.conversation_id === own)).toBe(true);
    expect(inbox.all("processing").length).toBeGreaterThan(0);
  });
});

/**
 * An agent that stops reading: a separate `bun` process holding an
 * authenticated agent socket, which prints the message_id of every
 * user_message it receives. SIGSTOP freezes it (its socket is not read, so
 * the server's send buffers fill); SIGCONT lets it read on.
 */
const STALLED_CLIENT = `
const ws = new WebSocket(process.env.URL);
ws.onopen = () => ws.send(JSON.stringify({ type: "auth", agent_id: process.env.AGENT_ID, secret: process.env.SECRET }));
ws.onmessage = (e) => {
  const f = JSON.parse(String(e.data));
  if (f.type === "auth_ok") console.log("auth_ok");
  else if (f.type === "user_message") console.log("got " + f.message_id);
};
ws.onclose = () => { console.log("closed"); process.exit(0); };
`;

async function stalledClient(server: { url: string }, agent: { id: string; secret: string }) {
  const proc = Bun.spawn([process.execPath, "-e", STALLED_CLIENT], {
    env: { ...process.env, URL: `${server.url.replace(/^http/, "ws")}/ws/agent/${agent.id}`, AGENT_ID: agent.id, SECRET: agent.secret },
    stdout: "pipe",
    stderr: "inherit",
  });
  afterAll(() => proc.kill("SIGKILL"));
  let out = "";
  const decoder = new TextDecoder();
  void (async () => {
    for await (const chunk of proc.stdout) out += decoder.decode(chunk, { stream: true });
  })();
  await eventually(() => out.includes("auth_ok"), 10_000, "the stalled client's auth_ok");
  return {
    stop: () => proc.kill("SIGSTOP"),
    resume: () => proc.kill("SIGCONT"),
    /** The message ids it has received so far. */
    received: () => new Set([...out.matchAll(/^got (\S+)$/gm)].map((m) => m[1]!)),
    closed: () => out.includes("closed"),
  };
}

const BIG = "x".repeat(16_000); // few events fill the socket's buffers

describe("an event pushed into a backed-up socket is delivered only once it has left the process", () => {
  test("in process: the event queued behind a stalled reader stays pending until the socket drains", async () => {
    const server = await startTestServer();
    const person = await owner(server);
    const created = await person.createAgent({ name: "Stalled" });
    const client = await stalledClient(server, created);
    client.stop();
    const socket = () => server.live.agentSockets.newest(created.id) as unknown as ServerWebSocket;
    // Messages until the kernel's buffers are full and Bun holds the rest in memory.
    const sent: string[] = [];
    while (socket().getBufferedAmount() === 0) {
      const r = await person.post(`/api/agents/${created.id}/messages`, { text: BIG });
      expect(r.status).toBe(201);
      sent.push(r.body.message_id);
    }
    const last = sent.at(-1)!;
    const status = async (messageId: string) => {
      const rows = (await person.get(`/api/deliveries?status=delivered&agent_id=${created.id}&limit=200`)).body as { message_id: string }[];
      return rows.some((d) => d.message_id === messageId) ? "delivered" : "not delivered";
    };
    expect(await status(last)).toBe("not delivered"); // it is in nod's memory, not yet on its way
    client.resume();
    await eventually(() => sent.every((id) => client.received().has(id)), 10_000, "every message at the client");
    await eventually(async () => (await status(last)) === "delivered", 5000, "the last message marked delivered after the drain");
    const pending = (await person.get(`/api/deliveries?agent_id=${created.id}`)).body;
    expect(pending).toEqual([]);
  });
});

test("SIGKILL with a stalled reader: every acknowledged message reaches the agent (old socket or replay)", async () => {
  const dir = tempDir();
  const serve = async (port = 0) => {
    const nod = spawnNod(["serve", "--port", String(port), "--host", "127.0.0.1", "--data", dir, "--log-level", "error"]);
    const m = await nod.waitForOutput(/listening on http:\/\/[^:]+:(\d+)/);
    return { nod, port: Number(m[1]), url: `http://127.0.0.1:${m[1]}` };
  };
  const first = await serve();
  const person = new Person(first.url);
  expect((await person.post("/api/auth/setup", { username: "alice", password: "correct horse battery" })).status).toBe(201);
  const created = await person.createAgent({ name: "Stalled" });
  const client = await stalledClient(first, created);
  client.stop();
  // A thousand messages of 12 kB (about 12 MB), four writers at once: far more than the
  // kernel's buffers hold, so hundreds of them wait in nod's memory when it is killed.
  const acked: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < 1000) {
        next++;
        const r = await person.post(`/api/agents/${created.id}/messages`, { text: BIG.slice(0, 12_000) });
        expect(r.status).toBe(201);
        acked.push(r.body.message_id);
      }
    }),
  );
  first.nod.proc.kill("SIGKILL");
  await first.nod.done;
  client.resume(); // it reads what had left the dead process, then its socket closes
  await eventually(client.closed, 10_000, "the stalled client's socket to close");
  const second = await serve(first.port);
  try {
    const a = await connectAgent(second, created);
    const got = () => new Set([...client.received(), ...a.all("user_message").map((f) => f.message_id as string)]);
    await eventually(() => acked.every((id) => got().has(id)), 15_000, "every acknowledged message").catch(() => {});
    const missing = acked.filter((id) => !got().has(id));
    expect({ acked: acked.length, missing: missing.length }).toEqual({ acked: 1000, missing: 0 });
  } finally {
    second.nod.proc.kill("SIGTERM");
    await second.nod.done;
  }
}, 60_000);

/** A loopback server that accepts connections and never answers; counts the ones open. */
async function hungServer() {
  const open = new Set<net.Socket>();
  let accepted = 0;
  const srv = net.createServer((s) => {
    accepted++;
    open.add(s);
    s.on("data", () => {});
    s.on("error", () => {});
    s.on("close", () => open.delete(s));
  });
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  afterAll(() => {
    for (const s of open) s.destroy();
    srv.close();
  });
  return { url: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}/hook`, open: () => open.size, accepted: () => accepted };
}

test("300 webhook receivers that never answer do not hold up healthy agents' webhooks", async () => {
  // No hung POST can time out, nor any retry come, while this test runs: the healthy
  // events can only arrive if they do not wait behind the hung POSTs.
  const server = await startTestServer({ webhookTimeoutMs: 600_000, webhookRetryBaseMs: 600_000 });
  const person = await owner(server);
  const hung = await hungServer();
  const broken: string[] = [];
  for (let i = 0; i < 300; i++) broken.push((await person.createAgent({ name: `Broken ${i}`, webhook_url: hung.url })).id);
  const hook = await webhookReceiver();
  const known = await person.createAgent({ name: "Known", webhook_url: hook.url }); // its receiver has answered before
  const added = await person.createAgent({ name: "New", webhook_url: hook.url }); // never tried yet

  // The messages are sent the way the people API sends them, but in process: this
  // test shares Bun's fetch connections with the server, and without the fix its
  // own requests would queue behind the hung ones too.
  const say = async (id: string, text: string) => (await sendUserMessage(server.ctx, await getAgent(server.ctx.db, id), "alice", text)).message_id;
  await say(known.id, "earlier");
  await hook.waitFor(1);
  for (const id of broken) await say(id, "into the void");
  await eventually(() => hung.accepted() >= 150, 10_000, "the broken receivers to hold their connections");
  const sent = [await say(known.id, "for the known one"), await say(added.id, "for the new one")];
  const got = await hook.waitFor(3, 30_000);
  expect(got.slice(1).map((r) => r.json.message_id).sort()).toEqual(sent.sort());
  expect(hung.open()).toBeGreaterThan(0); // the broken ones are still hanging
  // none of them timed out (their timeout is 10 minutes)
  const timedOut = ((await person.get("/api/deliveries?limit=200")).body as { last_error: string | null }[]).filter((d) => /no answer within/.test(d.last_error ?? ""));
  expect(timedOut).toEqual([]);
}, 60_000);

test("webhook slots: slow POSTs beyond the kept share give way; lanes that answered go first, then untried, then slow", async () => {
  const slots = new PostSlots(3, 0, 20); // 3 slots, no slow POST keeps its slot while others wait, slow after 20 ms
  const [a, b, c] = [slots.acquire("untried"), slots.acquire("untried"), slots.acquire("untried")] as Slot[];
  const order: string[] = [];
  const wait = (standing: Standing) => Promise.resolve(slots.acquire(standing)).then((s) => (order.push(standing), s));
  const waiting = [wait("slow"), wait("untried"), wait("answered")];
  await Bun.sleep(50);
  expect([a, b, c].map((s) => s!.giveWay.aborted)).toEqual([false, false, false]); // not sent yet: not slow
  for (const s of [a, b, c]) slots.sent(s!);
  await eventually(() => a!.giveWay.aborted && b!.giveWay.aborted && c!.giveWay.aborted, 5000, "the slow POSTs to give way");
  for (const s of [c, b, a]) slots.release(s!);
  await Promise.all(waiting);
  expect(order).toEqual(["answered", "untried", "slow"]);
  expect(slots.inFlight).toBe(3);

  // With a kept share of 1, the oldest slow POST keeps its slot to its own timeout.
  const kept = new PostSlots(2, 1, 20);
  const [old, young] = [kept.acquire("untried"), kept.acquire("untried")] as Slot[];
  kept.sent(old!);
  await Bun.sleep(30);
  kept.sent(young!);
  const waiter = kept.acquire("answered");
  await eventually(() => young!.giveWay.aborted, 5000, "the younger slow POST to give way");
  expect(old!.giveWay.aborted).toBe(false);
  kept.release(young!);
  await waiter;
  expect(kept.inFlight).toBe(2);
});
