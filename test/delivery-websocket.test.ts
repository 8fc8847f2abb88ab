// Delivery over the agent's WebSocket: every event type, replay at connect,
// dismissed requests, and one agent never seeing another's events.
import { describe, expect, test } from "bun:test";
import { eventually, startTestServer, withAgent } from "./helpers.ts";
import { connectAgent, connectInbox, webhookReceiver } from "./ws-helpers.ts";

const server = await startTestServer({ webhookRetryBaseMs: 50, webhookRetryWindowMs: 0 });
const { person, created, agent } = await withAgent(server, { name: "Online Agent" });

async function ask(kind: string, extra: Record<string, unknown> = {}, client = agent) {
  const res = await client.event({ type: "decision", kind, title: `A ${kind}`, description: "please", ...extra });
  expect(res.status).toBe(200);
  return res.body.decision_id as string;
}

describe("each event type over the socket", () => {
  test("user_message, with event_id and null media fields", async () => {
    const a = await connectAgent(server, created);
    const sent = await person.post(`/api/agents/${created.id}/messages`, { text: "hi agent" });
    const f = await a.waitFor("user_message");
    expect(f).toMatchObject({
      type: "user_message",
      event_id: expect.stringMatching(/^evt_/),
      text: "hi agent",
      sender_name: "alice",
      conversation_id: sent.body.conversation_id,
      message_id: sent.body.message_id,
      image_url: null,
      image_urls: null,
      audio_url: null,
    });
    await a.close();
  });

  test("decision_resolved for approval, question and permission (always allow)", async () => {
    const a = await connectAgent(server, created);
    const d1 = await ask("approval", { task_run_id: null });
    await person.post(`/api/decisions/${d1}/respond`, { status: "rejected", note: "not today" });
    expect(await a.waitFor("decision_resolved")).toMatchObject({ event_id: expect.stringMatching(/^evt_/), decision_id: d1, status: "rejected", note: "not today", title: "A approval", description: "please", always_allow: false });
    const d2 = await ask("question");
    await person.post(`/api/decisions/${d2}/respond`, { status: "responded", note: "42" });
    expect(await a.waitFor("decision_resolved")).toMatchObject({ decision_id: d2, status: "responded", note: "42" });
    const d3 = await ask("permission", { always_allow_options: [{ pattern: "Bash(npm install *)", label: "npm installs" }] });
    await person.post(`/api/decisions/${d3}/respond`, { status: "approved", always_allow: true, always_allow_pattern: "Bash(npm install *)" });
    expect(await a.waitFor("decision_resolved")).toMatchObject({ decision_id: d3, status: "approved", always_allow: true, always_allow_pattern: "Bash(npm install *)" });
    await a.close();
  });

  test("task_due (run now) and task_trigger (inbound webhook)", async () => {
    const a = await connectAgent(server, created);
    const task = await person.post(`/api/agents/${created.id}/tasks`, { name: "Digest", prompt: "Summarize the day", schedule: "0 9 * * *" });
    expect(task.status).toBe(201);
    const run = await person.post(`/api/tasks/${task.body.id}/run`);
    expect(run.status).toBe(201);
    expect(await a.waitFor("task_due")).toMatchObject({ event_id: expect.stringMatching(/^evt_/), task_id: task.body.id, run_id: run.body.run_id, task_name: "Digest", task_prompt: "Summarize the day", schedule: "0 9 * * *" });

    const evTask = await person.post(`/api/agents/${created.id}/tasks`, { name: "On push", prompt: "Review the push", schedule: "event" });
    const triggerPath = new URL(evTask.body.trigger_url).pathname;
    const hit = await fetch(server.url + triggerPath, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ref: "refs/heads/main" }) });
    expect(hit.status).toBe(202);
    const { run_id } = (await hit.json()) as { run_id: string };
    expect(await a.waitFor("task_trigger")).toMatchObject({ event_id: expect.stringMatching(/^evt_/), task_id: evTask.body.id, run_id, task_name: "On push", payload: { ref: "refs/heads/main" } });
    await a.close();
  });

  test("a socket takes precedence over the webhook", async () => {
    const hook = await webhookReceiver();
    const both = await person.createAgent({ name: "Both", webhook_url: hook.url });
    const a = await connectAgent(server, both);
    await person.post(`/api/agents/${both.id}/messages`, { text: "socket please" });
    expect((await a.waitFor("user_message")).text).toBe("socket please");
    await hook.expectNone(200);
    await a.close();
  });
});

test("a dismissed request sends nothing", async () => {
  const hook = await webhookReceiver();
  const quiet = await person.createAgent({ name: "Quiet", webhook_url: hook.url });
  const client = new (agent.constructor as any)(server.url, quiet.id, quiet.secret);
  const a = await connectAgent(server, quiet);
  const d = await ask("approval", {}, client);
  expect((await person.post(`/api/decisions/${d}/respond`, { status: "dismissed" })).body.status).toBe("dismissed");
  await a.expectNone("decision_resolved", 200);
  await a.close();
  await hook.expectNone(100);
  const again = await connectAgent(server, quiet); // nor is it replayed later
  await again.expectNone("decision_resolved", 150);
  await again.close();
});

test("replay at connect: auth_ok first, then everything missed, oldest first, once", async () => {
  const offline = await person.createAgent({ name: "Offline" }); // no webhook: events wait
  const client = new (agent.constructor as any)(server.url, offline.id, offline.secret);
  const m1 = await person.post(`/api/agents/${offline.id}/messages`, { text: "one" });
  await person.post(`/api/agents/${offline.id}/messages`, { text: "two", conversation_id: m1.body.conversation_id });
  const d = await ask("approval", {}, client);
  await person.post(`/api/decisions/${d}/respond`, { status: "approved" });
  const task = await person.post(`/api/agents/${offline.id}/tasks`, { name: "Later", prompt: "p", schedule: "0 0 1 1 *" });
  await person.post(`/api/tasks/${task.body.id}/run`);
  await person.post(`/api/agents/${offline.id}/messages`, { text: "three", conversation_id: m1.body.conversation_id });

  const a = await connectAgent(server, offline);
  await a.waitFor((f) => f.text === "three");
  expect(a.frames.map((f) => f.type)).toEqual(["auth_ok", "user_message", "user_message", "decision_resolved", "task_due", "user_message"]);
  expect(a.frames.filter((f) => f.type === "user_message").map((f) => f.text)).toEqual(["one", "two", "three"]);
  const ids = a.frames.slice(1).map((f) => f.event_id);
  expect(ids.every((id) => /^evt_/.test(id))).toBe(true);
  expect([...ids].sort()).toEqual(ids);
  await a.close();

  const b = await connectAgent(server, offline);
  await b.expectNone((f) => f.type !== "auth_ok", 150);
  await b.close();
});

test("a large replay (12 MB, several batches) arrives whole and in order", async () => {
  const big = await person.createAgent({ name: "Backlog" });
  const filler = "x".repeat(40_000);
  const first = await person.post(`/api/agents/${big.id}/messages`, { text: `0 ${filler}` });
  const conv = first.body.conversation_id;
  for (let i = 1; i < 300; i += 20)
    await Promise.all(Array.from({ length: Math.min(20, 300 - i) }, (_, k) => person.post(`/api/agents/${big.id}/messages`, { text: `${i + k} ${filler}`, conversation_id: conv })));
  const a = await connectAgent(server, big);
  await eventually(() => a.all("user_message").length >= 300, 10_000, "300 replayed events");
  await Bun.sleep(50); // and no more than that
  const got = a.all("user_message");
  expect(got.length).toBe(300);
  const ids = got.map((f) => f.event_id);
  expect(new Set(ids).size).toBe(300);
  expect([...ids].sort()).toEqual(ids);
  await a.close();
});

test("an agent never receives another agent's events", async () => {
  const one = await person.createAgent({ name: "One" });
  const two = await person.createAgent({ name: "Two" });
  await person.post(`/api/agents/${one.id}/messages`, { text: "for one, while offline" });
  const a1 = await connectAgent(server, one);
  const a2 = await connectAgent(server, two);
  await a1.waitFor("user_message");
  await person.post(`/api/agents/${one.id}/messages`, { text: "for one, live" });
  await a1.waitFor((f) => f.text === "for one, live");
  await a2.expectNone((f) => f.type !== "auth_ok", 150);
  // two's own event reaches two only
  await person.post(`/api/agents/${two.id}/messages`, { text: "for two" });
  expect((await a2.waitFor("user_message")).text).toBe("for two");
  expect(a1.all("user_message").map((f) => f.text)).toEqual(["for one, while offline", "for one, live"]);
  await a1.close();
  await a2.close();
});

test("the inbox hears about each delivery", async () => {
  const inbox = await connectInbox(server, person);
  const a = await connectAgent(server, created);
  const sent = await person.post(`/api/agents/${created.id}/messages`, { text: "tick" });
  const f = await a.waitFor((f) => f.text === "tick");
  expect(await inbox.waitFor((x) => x.type === "delivery" && x.event_id === f.event_id)).toMatchObject({
    agent_id: created.id,
    status: "delivered",
    via: "websocket",
    event_type: "user_message",
    message_id: sent.body.message_id,
  });
  await a.close();
  await inbox.close();
});
