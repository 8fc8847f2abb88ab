// Delivery by webhook: headers and signature, retries with their reasons,
// giving up (undelivered → replayed over the socket), timeouts, blocked
// private destinations, fall-through when the socket drops, restarts, and
// per-agent independence.
import { afterAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { and, eq } from "drizzle-orm";
import { outbox } from "../server/db/tables.ts";
import { AgentClient, eventually, owner, startTestServer, type TestServer } from "./helpers.ts";
import { connectAgent, connectInbox, verifySignature, webhookReceiver, type FrameSocket, type WebhookReceiver } from "./ws-helpers.ts";
import { AGENT_WS } from "../server/realtime/agent-socket.ts";

// This file starts several servers (each with an owner whose password is hashed): a busy machine needs more than bun's default 5 s per test (a hang guard, not a time check).
setDefaultTimeout(60_000);

const confirmWas = AGENT_WS.confirmAfterMs;
AGENT_WS.confirmAfterMs = 50; // 1 s in production
afterAll(() => void (AGENT_WS.confirmAfterMs = confirmWas));

/** Ends the socket without a close handshake, as a crashed agent or a cut network would. */
function drop(s: FrameSocket) {
  (s.ws as WebSocket & { terminate(): void }).terminate();
}

const BASE = 50; // retry base: attempts at 0, +50 ms, +200 ms
const server = await startTestServer({ webhookRetryBaseMs: BASE, webhookRetryWindowMs: 0 });
const person = await owner(server);

interface Retry {
  event: string;
  /** the attempt that failed (1, 2, …) */
  attempt: number;
  /** the backoff the dispatcher chose */
  inMs: number;
  /** when the retry is due (the outbox row's next_attempt_at), once the read of the row answers */
  dueAt: Promise<number>;
}

/**
 * Every retry a server schedules, read as it is scheduled: the backoff from
 * the dispatcher's log line, the due time from the outbox row. Tests check the
 * backoff on these, and that each retry came no earlier than it was due: the
 * order of events, never a measured delay (which a busy machine stretches).
 * The row is read as the line is logged (after the retry's commit, before its
 * timer is set); the read is checked to have found this attempt's row.
 */
function retriesOf(s: TestServer): Retry[] {
  const got: Retry[] = [];
  const log = s.ctx.log;
  const info = log.info.bind(log);
  log.info = (msg, fields) => {
    if (msg === "webhook attempt failed, will retry" && fields) {
      const event = String(fields.event);
      const attempt = Number(fields.attempt);
      const dueAt = s.ctx.db
        .select({ at: outbox.nextAttemptAt })
        .from(outbox)
        .where(and(eq(outbox.id, event), eq(outbox.attempts, attempt)))
        .then(([row]) => {
          if (!row?.at) throw new Error(`retry ${attempt} of ${event}: its outbox row had moved on before it was read`);
          return Date.parse(row.at);
        });
      dueAt.catch(() => {}); // a test that looks at this retry awaits it and sees the error
      got.push({ event, attempt, inMs: Number(fields.retry_in_ms), dueAt });
    }
    info(msg, fields);
  };
  return got;
}
const retries = retriesOf(server);

async function hooked(s: TestServer = server, p = person, name = "Hooked") {
  const hook = await webhookReceiver();
  const created = await p.createAgent({ name, webhook_url: hook.url });
  return { hook, created, agent: new AgentClient(s.url, created.id, created.secret) };
}

const say = (agentId: string, text: string) => person.post(`/api/agents/${agentId}/messages`, { text });

describe("each event type over the webhook", () => {
  test("user_message: the event as JSON with the X-Nod headers and a valid signature", async () => {
    const { hook, created } = await hooked();
    const before = Math.floor(Date.now() / 1000);
    const sent = await say(created.id, "hello webhook");
    const [r] = await hook.waitFor(1);
    expect(r!.json).toEqual({
      type: "user_message",
      event_id: expect.stringMatching(/^evt_[0-9a-f]+$/),
      text: "hello webhook",
      sender_name: "alice",
      conversation_id: sent.body.conversation_id,
      message_id: sent.body.message_id,
      image_url: null,
      image_urls: null,
      audio_url: null,
      created_at: expect.stringMatching(/Z$/),
    });
    expect(r!.headers["content-type"]).toBe("application/json");
    expect(r!.headers["x-nod-event-id"]).toBe(r!.json.event_id);
    expect(r!.headers["x-nod-delivery-id"]).toMatch(/^dlv_[0-9a-f]+$/);
    // Unix seconds, taken when it was sent: between the message and its arrival.
    expect(r!.headers["x-nod-timestamp"]).toMatch(/^\d+$/);
    expect(Number(r!.headers["x-nod-timestamp"])).toBeGreaterThanOrEqual(before);
    expect(Number(r!.headers["x-nod-timestamp"])).toBeLessThanOrEqual(Math.ceil(r!.at / 1000));
    expect(r!.headers["x-nod-retry-num"]).toBe("0");
    expect(r!.headers["x-nod-retry-reason"]).toBe("first_attempt");
    expect(r!.headers["x-nod-signature"]).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(created.webhook_secret).toMatch(/^whsec_/);
    expect(verifySignature(created.webhook_secret, r!)).toBe(true);
    expect(verifySignature(created.webhook_secret, { ...r!, body: r!.body.replace("hello", "jello") })).toBe(false);
    await hook.expectNone(100); // delivered once
  });

  test("the signature covers the raw UTF-8 body (non-ASCII text)", async () => {
    const { hook, created } = await hooked();
    await say(created.id, "héllo wörld 👋 — \"quoted\"");
    const [r] = await hook.waitFor(1);
    expect(r!.json.text).toBe("héllo wörld 👋 — \"quoted\"");
    expect(verifySignature(created.webhook_secret, r!)).toBe(true);
  });

  test("decision_resolved", async () => {
    const { hook, created, agent } = await hooked();
    const d = (await agent.event({ type: "decision", kind: "approval", title: "Ship it?", description: "v2" })).body.decision_id;
    await person.post(`/api/decisions/${d}/respond`, { status: "approved", note: "yes" });
    const [r] = await hook.waitFor(1);
    expect(r!.json).toMatchObject({ type: "decision_resolved", decision_id: d, status: "approved", note: "yes", title: "Ship it?", description: "v2", always_allow: false });
    expect(verifySignature(created.webhook_secret, r!)).toBe(true);
  });

  test("a dismissed request sends nothing", async () => {
    const { hook, agent } = await hooked();
    const d = (await agent.event({ type: "decision", kind: "question", title: "Q", description: "?" })).body.decision_id;
    await person.post(`/api/decisions/${d}/respond`, { status: "dismissed" });
    await hook.expectNone(250);
  });

  test("task_due", async () => {
    const { hook, created } = await hooked();
    const task = await person.post(`/api/agents/${created.id}/tasks`, { name: "Nightly", prompt: "Check backups", schedule: "0 3 * * *" });
    const run = await person.post(`/api/tasks/${task.body.id}/run`);
    const [r] = await hook.waitFor(1);
    expect(r!.json).toMatchObject({ type: "task_due", task_id: task.body.id, run_id: run.body.run_id, task_name: "Nightly", task_prompt: "Check backups" });
  });

  test("task_trigger never goes to the webhook: it waits for polling or the socket", async () => {
    const { hook, created, agent } = await hooked();
    const task = await person.post(`/api/agents/${created.id}/tasks`, { name: "On alert", prompt: "Look", schedule: "event" });
    const hit = await fetch(server.url + new URL(task.body.trigger_url).pathname, { method: "POST", headers: { "content-type": "application/json" }, body: '{"level":"high"}' });
    expect(hit.status).toBe(202);
    await hook.expectNone(250);
    const a = await connectAgent(server, created);
    expect(await a.waitFor("task_trigger")).toMatchObject({ task_id: task.body.id, payload: { level: "high" } });
    await a.close();
    await hook.expectNone(100);
    // and until its run starts it is also listed for polling
    const pending = await agent.get("/api/agent/tasks/triggers/pending");
    expect(JSON.stringify(pending.body)).toContain("high");
  });
});

describe("retries", () => {
  test("a receiver failing twice then succeeding: Retry-Num 0, 1, 2 with the same event id", async () => {
    const { hook, created } = await hooked();
    hook.responses.push(500, 503);
    await say(created.id, "third time lucky");
    const rs = await hook.waitFor(3);
    expect(rs.map((r) => r.headers["x-nod-retry-num"])).toEqual(["0", "1", "2"]);
    expect(rs.map((r) => r.headers["x-nod-retry-reason"])).toEqual(["first_attempt", "http_500", "http_503"]);
    expect(new Set(rs.map((r) => r.headers["x-nod-event-id"])).size).toBe(1);
    expect(new Set(rs.map((r) => r.headers["x-nod-delivery-id"])).size).toBe(3);
    expect(rs.every((r) => r.body === rs[0]!.body && verifySignature(created.webhook_secret, r))).toBe(true);
    // backoff: base, then base × 4; each retry came after its failure, no earlier than it was due
    const mine = retries.filter((x) => x.event === rs[0]!.headers["x-nod-event-id"]);
    expect(mine.map((x) => [x.attempt, x.inMs])).toEqual([
      [1, BASE],
      [2, 4 * BASE],
    ]);
    expect(rs[1]!.at).toBeGreaterThanOrEqual(await mine[0]!.dueAt);
    expect(rs[2]!.at).toBeGreaterThanOrEqual(await mine[1]!.dueAt);
    expect(rs[0]!.at <= rs[1]!.at && rs[1]!.at <= rs[2]!.at).toBe(true);
    await hook.expectNone(300);
  });

  test("three failures: undelivered (the inbox is told), then sent over the socket at the next connect", async () => {
    const { hook, created } = await hooked();
    const inbox = await connectInbox(server, person);
    hook.responses.push(500, 500, 500);
    const sent = await say(created.id, "never lands by webhook");
    const rs = await hook.waitFor(3);
    const eventId = rs[0]!.headers["x-nod-event-id"];
    const mark = await inbox.waitFor((f) => f.type === "delivery" && f.event_id === eventId);
    expect(mark).toMatchObject({ agent_id: created.id, status: "undelivered", event_type: "user_message", message_id: sent.body.message_id, last_error: expect.stringContaining("http_500") });
    await hook.expectNone(400); // no fourth attempt
    const a = await connectAgent(server, created);
    expect(await a.waitFor("user_message")).toMatchObject({ event_id: eventId, text: "never lands by webhook" });
    expect(await inbox.waitFor((f) => f.type === "delivery" && f.event_id === eventId)).toMatchObject({ status: "delivered", via: "websocket" });
    await a.close();
  });

  test("connection refused counts as connection_error", async () => {
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
    const deadUrl = `http://127.0.0.1:${closed.port}/gone`;
    closed.stop(true);
    const created = await person.createAgent({ name: "Dead hook", webhook_url: deadUrl });
    const inbox = await connectInbox(server, person);
    await say(created.id, "anyone?");
    const mark = await inbox.waitFor((f) => f.type === "delivery" && f.agent_id === created.id, 3000);
    expect(mark).toMatchObject({ status: "undelivered", last_error: expect.stringMatching(/^connection_error/) });
  });

  test("events of one agent arrive in order even when one needs retries", async () => {
    const { hook, created } = await hooked();
    hook.responses.push(500);
    await say(created.id, "first");
    await say(created.id, "second");
    await say(created.id, "third");
    await hook.waitFor(4);
    expect(hook.received.map((r) => r.json.text)).toEqual(["first", "first", "second", "third"]);
  });
});

test("a slow webhook: timeout is its retry reason", async () => {
  const s = await startTestServer({ webhookRetryBaseMs: BASE, webhookRetryWindowMs: 0, webhookTimeoutMs: 200 });
  const scheduled = retriesOf(s);
  const p = await owner(s);
  const { hook, created } = await hooked(s, p);
  hook.responses.push("hang");
  await p.post(`/api/agents/${created.id}/messages`, { text: "slow" });
  // The 200 ms timeout ends the hanging attempt: the retry comes long before this wait (and the default 30 s timeout) runs out.
  const rs = await hook.waitFor(2, 10_000);
  expect(rs.map((r) => r.headers["x-nod-retry-reason"])).toEqual(["first_attempt", "timeout"]);
  expect(rs[1]!.headers["x-nod-retry-num"]).toBe("1");
  expect(rs[1]!.headers["x-nod-event-id"]).toBe(rs[0]!.headers["x-nod-event-id"]);
  // the failed attempt was recorded as a timeout, and the retry came no earlier than it was due
  expect(scheduled.map((x) => [x.attempt, x.inMs])).toEqual([[1, BASE]]);
  expect(rs[1]!.at).toBeGreaterThanOrEqual(await scheduled[0]!.dueAt);
});

test("one slow webhook never holds up another agent's deliveries", async () => {
  const slow = await hooked(server, person, "Slow");
  slow.hook.responses.push("hang"); // 30 s timeout on this server
  const fast = await hooked(server, person, "Fast");
  await say(slow.created.id, "stuck");
  await slow.hook.waitFor(1);
  for (let i = 0; i < 5; i++) await say(fast.created.id, `quick ${i}`);
  // All five arrive, in order, while the slow agent's first attempt still hangs (its timeout is 30 s, beyond this wait).
  await fast.hook.waitFor(5, 10_000);
  expect(fast.hook.received.map((r) => r.json.text)).toEqual([0, 1, 2, 3, 4].map((i) => `quick ${i}`));
  expect(slow.hook.received).toHaveLength(1);
  expect(retries.filter((x) => x.event === slow.hook.received[0]!.headers["x-nod-event-id"])).toEqual([]); // not failed, not retried: still in flight
  // the stuck agent's lane is busy; a socket still gets its other events at once
  await say(slow.created.id, "by socket");
  const a = await connectAgent(server, slow.created);
  expect((await a.waitFor("user_message")).text).toBe("by socket");
  await a.close();
});

test("--webhook-block-private refuses loopback destinations with a clear last_error", async () => {
  const s = await startTestServer({ webhookRetryBaseMs: BASE, webhookBlockPrivate: true });
  const p = await owner(s);
  const { hook, created } = await hooked(s, p);
  const inbox = await connectInbox(s, p);
  await p.post(`/api/agents/${created.id}/messages`, { text: "blocked" });
  const mark = await inbox.waitFor((f) => f.type === "delivery" && f.agent_id === created.id);
  expect(mark).toMatchObject({ status: "undelivered", last_error: expect.stringContaining("blocked: 127.0.0.1") });
  await hook.expectNone(100);
  // the socket still works
  const a = await connectAgent(s, created);
  expect((await a.waitFor("user_message")).text).toBe("blocked");
  await a.close();
});

test("fall-through: when the agent's socket drops, the next event goes to the webhook", async () => {
  const { hook, created } = await hooked();
  const a = await connectAgent(server, created);
  await say(created.id, "while connected");
  expect((await a.waitFor("user_message")).text).toBe("while connected");
  await Bun.sleep(AGENT_WS.confirmAfterMs + 20);
  a.send({ type: "ping" }); // a sign of life after the push: it arrived
  await a.waitFor("pong");
  drop(a);
  await a.closed;
  await say(created.id, "after the drop");
  const [r] = await hook.waitFor(1);
  expect(r!.json.text).toBe("after the drop");
  await hook.expectNone(150);
  expect(hook.received.map((x) => x.json.text)).toEqual(["after the drop"]);
});

test("a socket that dies mid-way: what was pushed with no sign of life since goes to the webhook too", async () => {
  const { hook, created } = await hooked();
  const a = await connectAgent(server, created);
  await say(created.id, "pushed into the void");
  const pushed = await a.waitFor("user_message");
  drop(a); // no clean close, nothing heard after the push
  const [r] = await hook.waitFor(1);
  expect(r!.json).toMatchObject({ text: "pushed into the void", event_id: pushed.event_id });
  expect(r!.headers["x-nod-event-id"]).toBe(pushed.event_id);
  // a clean close does not re-send
  const b = await connectAgent(server, created);
  await say(created.id, "clean");
  await b.waitFor("user_message");
  await b.close();
  await hook.expectNone(200);
});

test("a restart with a retry queued: the retry is sent after it", async () => {
  let s = await startTestServer({ webhookRetryBaseMs: 400, webhookRetryWindowMs: 0 });
  const p = await owner(s);
  const hook: WebhookReceiver = await webhookReceiver();
  const created = await p.createAgent({ name: "Restarted", webhook_url: hook.url });
  hook.responses.push(500);
  await p.post(`/api/agents/${created.id}/messages`, { text: "survive the restart" });
  await hook.waitFor(1);
  // the failure is recorded (an attempt cut short by the shutdown would simply run again as attempt 0)
  await eventually(() => /outcome="failed"\} 1/.test(s.ctx.metrics.render()));
  s = await s.restart(); // the retry is due 400 ms after the failure, while the first server is gone
  const rs = await hook.waitFor(2, 4000);
  expect(rs[1]!.headers["x-nod-retry-num"]).toBe("1");
  expect(rs[1]!.headers["x-nod-retry-reason"]).toBe("http_500");
  expect(rs[1]!.headers["x-nod-event-id"]).toBe(rs[0]!.headers["x-nod-event-id"]);
  expect(rs[1]!.json.text).toBe("survive the restart");
  await hook.expectNone(200);
});

test("people see undelivered events and can try one again", async () => {
  const { hook, created } = await hooked();
  hook.responses.push(500, 500, 500);
  const sent = await say(created.id, "retry me");
  await hook.waitFor(3);
  const list = await eventually(async () => {
    const r = await person.get(`/api/deliveries?status=undelivered&agent_id=${created.id}`);
    return r.body.length ? r.body : null;
  });
  expect(list[0]).toMatchObject({ agent_id: created.id, event_type: "user_message", status: "undelivered", attempts: 3, message_id: sent.body.message_id, last_error: expect.stringContaining("http_500") });
  expect((await request404(`/api/deliveries/evt_nope/retry`)).status).toBe(404);
  const retried = await person.post(`/api/deliveries/${list[0].event_id}/retry`);
  expect(retried.status).toBe(200);
  expect(retried.body).toMatchObject({ status: "pending", attempts: 0 });
  const [, , , r4] = await hook.waitFor(4);
  expect(r4!.headers["x-nod-event-id"]).toBe(list[0].event_id);
  await eventually(async () => (await person.get(`/api/deliveries?agent_id=${created.id}`)).body.length === 0);
  expect((await person.post(`/api/deliveries/${list[0].event_id}/retry`)).status).toBe(409);
  expect((await new AgentClient(server.url, created.id, created.secret).get("/api/deliveries")).status).toBe(401);
});

const request404 = (path: string) => person.post(path);

test("metrics count deliveries by channel and outcome", async () => {
  const text = server.ctx.metrics.render();
  expect(text).toMatch(/nod_deliveries_total\{channel="webhook",outcome="delivered"\} [1-9]/);
  expect(text).toMatch(/nod_deliveries_total\{channel="webhook",outcome="failed"\} [1-9]/);
  expect(text).toMatch(/nod_deliveries_total\{channel="webhook",outcome="undelivered"\} [1-9]/);
});
