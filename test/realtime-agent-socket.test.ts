// The agent WebSocket: handshake and its close codes, every agent frame with
// its ack/error reply, online/offline, second sockets.
import { describe, expect, test } from "bun:test";
import { eventually, PNG_1x1, startTestServer, withAgent } from "./helpers.ts";
import { connectAgent, connectInbox, openAgentSocket } from "./ws-helpers.ts";
import { AGENT_WS } from "../server/realtime/agent-socket.ts";

const server = await startTestServer();
const { person, created, agent } = await withAgent(server, { name: "Socket Agent" });
const other = await person.createAgent({ name: "Other" });

describe("handshake", () => {
  test("auth_ok with a sess_ id and the agent's name", async () => {
    const a = await connectAgent(server, created);
    expect(a.authOk).toEqual({ type: "auth_ok", session_id: expect.stringMatching(/^sess_[0-9a-f]+$/), agent_name: "Socket Agent" });
    await a.close();
  });

  test("agent_id may be left out of the auth frame: the URL names the agent", async () => {
    const s = await openAgentSocket(server, created.id);
    s.send({ type: "auth", secret: created.secret });
    expect((await s.waitFor("auth_ok")).agent_name).toBe("Socket Agent");
    await s.close();
  });

  const refused: [string, (s: Awaited<ReturnType<typeof openAgentSocket>>) => void, number, string?][] = [
    ["invalid JSON", (s) => s.send("{not json"), 4001],
    ["a JSON frame that is not auth", (s) => s.send({ type: "message", text: "hi" }), 4001],
    ["a JSON array", (s) => s.send("[1,2]"), 4001],
    ["auth without a secret", (s) => s.send({ type: "auth", agent_id: created.id }), 4001],
    ["a wrong secret", (s) => s.send({ type: "auth", agent_id: created.id, secret: "nod_" + "0".repeat(40) }), 4003],
    ["another agent's secret", (s) => s.send({ type: "auth", agent_id: created.id, secret: other.secret }), 4003],
    ["a 1 MB auth message (never parsed)", (s) => s.send({ type: "auth", agent_id: created.id, secret: created.secret, pad: "x".repeat(1_000_000) }), 4001],
  ];
  for (const [what, send, code] of refused) {
    test(`${what} → close ${code}`, async () => {
      const s = await openAgentSocket(server, created.id);
      send(s);
      expect((await s.closed).code).toBe(code);
    });
  }

  test("unknown agent id → close 4004", async () => {
    const s = await openAgentSocket(server, "agt_0000000000000000");
    s.send({ type: "auth", agent_id: "agt_0000000000000000", secret: created.secret });
    expect((await s.closed).code).toBe(4004);
  });

  test("auth frame naming another agent than the URL → close 4004", async () => {
    const s = await openAgentSocket(server, created.id);
    s.send({ type: "auth", agent_id: other.id, secret: other.secret });
    expect((await s.closed).code).toBe(4004);
  });

  test("no auth frame in time → close 4001", async () => {
    const was = AGENT_WS.authTimeoutMs;
    AGENT_WS.authTimeoutMs = 200; // 10 s in production
    try {
      const s = await openAgentSocket(server, created.id);
      // Closed by the timer (its reason says so) after the socket had opened and sent nothing.
      expect(await s.closed).toEqual({ code: 4001, reason: expect.stringContaining("no auth message within") });
      expect(s.frames).toEqual([]);
    } finally {
      AGENT_WS.authTimeoutMs = was;
    }
  });

  test("a refused socket never shows the agent online", async () => {
    const s = await openAgentSocket(server, created.id);
    s.send({ type: "auth", agent_id: created.id, secret: "nod_wrong" });
    await s.closed;
    expect((await person.get(`/api/agents/${created.id}`)).body.online).toBe(false);
  });
});

describe("frames after auth", () => {
  test("message → ack with message_id and conversation_id; the person sees it", async () => {
    const a = await connectAgent(server, created);
    const ack = await a.request({ type: "message", text: "hello over ws" });
    expect(ack).toEqual({ type: "ack", request_id: expect.any(String), status: "ok", message_id: expect.stringMatching(/^msg_/), conversation_id: expect.stringMatching(/^conv_/) });
    const msgs = await person.get(`/api/conversations/${ack.conversation_id}/messages`);
    expect(msgs.body.map((m: any) => m.text)).toContain("hello over ws");
    await a.close();
  });

  test("message with an image and a report", async () => {
    const a = await connectAgent(server, created);
    const ack = await a.request({ type: "message", text: "chart", image_base64: PNG_1x1, report_title: "Weekly", report_description: "numbers" });
    expect(ack.type).toBe("ack");
    const msgs = await person.get(`/api/conversations/${ack.conversation_id}/messages`);
    const m = msgs.body.find((m: any) => m.id === ack.message_id);
    expect(m.image_url).toMatch(/^http/);
    expect(m.report_title).toBe("Weekly");
    await a.close();
  });

  test("decision with the permission extras → ack with decision_id", async () => {
    const a = await connectAgent(server, created);
    const ack = await a.request({
      type: "decision",
      kind: "permission",
      title: "Allow: Bash(npm install stripe)",
      description: "install",
      allows_always: true,
      always_allow_label: "Always allow npm installs",
      always_allow_options: [{ pattern: "Bash(npm install *)", label: "All npm installs" }],
    });
    const id = ack.decision_id; // read first: bun's toMatchObject writes the matchers into the object
    expect(ack).toMatchObject({ type: "ack", status: "ok", decision_id: expect.stringMatching(/^dec_/) });
    const d = (await person.get(`/api/decisions/${id}`)).body;
    expect(d).toMatchObject({ kind: "permission", allows_always: true, always_allow_label: "Always allow npm installs" });
    expect(d.always_allow_options).toEqual([{ pattern: "Bash(npm install *)", label: "All npm installs" }]);
    await a.close();
  });

  test("alert, task_proposal, status → ack; heartbeat/idle acked only with a request_id", async () => {
    const a = await connectAgent(server, created);
    expect(await a.request({ type: "alert", title: "Disk 91%", text: "on web-1" })).toMatchObject({ type: "ack", status: "ok", activity_id: expect.stringMatching(/^act_/) });
    expect(await a.request({ type: "task_proposal", title: "Daily digest?", task_name: "digest", task_prompt: "Summarize", task_schedule: "0 9 * * *" })).toMatchObject({
      type: "ack",
      status: "ok",
      decision_id: expect.stringMatching(/^dec_/),
    });
    expect(await a.request({ type: "status", action: "started", details: { version: "1.2" } })).toMatchObject({ type: "ack", status: "ok" });
    expect(await a.request({ type: "agent_heartbeat", status_text: "Reading files" })).toMatchObject({ type: "ack", status: "ok" });
    expect(await a.request({ type: "agent_idle" })).toMatchObject({ type: "ack", status: "ok" });
    expect(await a.request({ type: "processing_start" })).toMatchObject({ type: "ack", status: "ok" });
    expect(await a.request({ type: "processing_stop" })).toMatchObject({ type: "ack", status: "ok" });
    a.send({ type: "agent_heartbeat" });
    a.send({ type: "agent_idle" });
    await a.expectNone((f) => f.type === "ack" && f.request_id === undefined, 200);
    const activity = await person.get(`/api/agents/${created.id}/activity`);
    expect(activity.body.some((e: any) => e.type === "system" && e.title.includes("started"))).toBe(true);
    await a.close();
  });

  test("an approval-only agent: message refused (403), requests fine", async () => {
    const ao = await person.createAgent({ name: "Approver", type: "approval_only" });
    const a = await connectAgent(server, ao);
    expect(await a.request({ type: "message", text: "hi" })).toMatchObject({ type: "error", code: 403 });
    expect(await a.request({ type: "decision", kind: "approval", title: "OK?", description: "" })).toMatchObject({ type: "ack", status: "ok" });
    await a.close();
  });

  test("binary frames are read as UTF-8 JSON", async () => {
    const a = await connectAgent(server, created);
    a.ws.send(new TextEncoder().encode(JSON.stringify({ type: "alert", title: "binary", request_id: "b1" })));
    expect(await a.waitFor((f) => f.request_id === "b1")).toMatchObject({ type: "ack", status: "ok" });
    await a.close();
  });

  test("ping → pong; without request_id too", async () => {
    const a = await connectAgent(server, created);
    a.send({ type: "ping" });
    expect(await a.waitFor("pong")).toEqual({ type: "pong" });
    await a.close();
  });

  test("bad frames get an error frame and the socket stays open", async () => {
    const a = await connectAgent(server, created);
    a.send("{oops");
    expect(await a.waitFor("error")).toEqual({ type: "error", detail: "invalid JSON" });
    expect(await a.request({ type: "nonsense" })).toMatchObject({ type: "error", detail: expect.stringContaining("type") });
    expect(await a.request({ type: "decision", title: "x" })).toMatchObject({ type: "error", detail: expect.stringContaining("description") });
    expect(await a.request({ type: "message", text: "x", conversation_id: "conv_nope" })).toMatchObject({ type: "error", code: 404 });
    expect(await a.request({ type: "auth", secret: created.secret })).toMatchObject({ type: "error", detail: "already authenticated" });
    expect(await a.request({ type: "message", text: "still here" })).toMatchObject({ type: "ack" });
    await a.close();
  });

  test("replies keep the order frames were sent in", async () => {
    const a = await connectAgent(server, created);
    const ids = Array.from({ length: 20 }, (_, i) => `o${i}`);
    ids.forEach((id, i) => a.send({ type: "message", text: `n${i}`, request_id: id, ...(i % 5 === 0 ? { image_base64: PNG_1x1 } : {}) }));
    await a.waitFor((f) => f.request_id === "o19");
    expect(a.all("ack").map((f) => f.request_id)).toEqual(ids);
    await a.close();
  });
});

describe("online state", () => {
  test("online while a socket is open, offline at once on a clean close; inbox told; last_seen_at set", async () => {
    const fresh = await person.createAgent({ name: "Presence" });
    const inbox = await connectInbox(server, person);
    expect((await person.get(`/api/agents/${fresh.id}`)).body).toMatchObject({ online: false, last_seen_at: null });
    const a = await connectAgent(server, fresh);
    expect(await inbox.waitFor((f) => f.type === "agent_status" && f.agent_id === fresh.id)).toEqual({ type: "agent_status", agent_id: fresh.id, online: true });
    const on = (await person.get(`/api/agents/${fresh.id}`)).body;
    expect(on.online).toBe(true);
    expect(on.last_seen_at).toMatch(/Z$/);
    await a.close();
    expect(await inbox.waitFor((f) => f.type === "agent_status" && f.agent_id === fresh.id)).toEqual({ type: "agent_status", agent_id: fresh.id, online: false });
    expect((await person.get(`/api/agents/${fresh.id}`)).body.online).toBe(false);
  });

  test("a second socket: both stay open, online until the last closes, events go to the newest", async () => {
    const fresh = await person.createAgent({ name: "Twice" });
    const inbox = await connectInbox(server, person);
    const first = await connectAgent(server, fresh);
    const second = await connectAgent(server, fresh);
    expect(second.authOk.session_id).not.toBe(first.authOk.session_id);
    // both can send
    expect((await first.request({ type: "alert", title: "from first" })).type).toBe("ack");
    expect((await second.request({ type: "alert", title: "from second" })).type).toBe("ack");
    await person.post(`/api/agents/${fresh.id}/messages`, { text: "who gets this" });
    expect((await second.waitFor("user_message")).text).toBe("who gets this");
    await first.expectNone("user_message", 100);
    await second.close();
    expect(first.ws.readyState).toBe(WebSocket.OPEN);
    expect((await person.get(`/api/agents/${fresh.id}`)).body.online).toBe(true);
    await person.post(`/api/agents/${fresh.id}/messages`, { text: "now the first" });
    expect((await first.waitFor("user_message")).text).toBe("now the first");
    await first.close();
    await inbox.waitFor((f) => f.type === "agent_status" && f.agent_id === fresh.id && f.online === false);
    expect(inbox.all((f) => f.type === "agent_status" && f.agent_id === fresh.id).map((f) => f.online)).toEqual([true, false]);
  });

  test("deleting the agent closes its socket (4004); rotating the secret closes it (4003)", async () => {
    const gone = await person.createAgent({ name: "Gone" });
    const a = await connectAgent(server, gone);
    expect((await person.delete(`/api/agents/${gone.id}`)).status).toBe(204);
    expect((await a.closed).code).toBe(4004);

    const rotated = await person.createAgent({ name: "Rotated" });
    const b = await connectAgent(server, rotated);
    const res = await person.post(`/api/agents/${rotated.id}/secret`);
    expect((await b.closed).code).toBe(4003);
    const again = await connectAgent(server, { id: rotated.id, secret: res.body.secret });
    expect(again.authOk.type).toBe("auth_ok");
    await again.close();
  });

  test("the processing indicator turns off when the agent goes offline", async () => {
    const fresh = await person.createAgent({ name: "Thinker" });
    const inbox = await connectInbox(server, person);
    const a = await connectAgent(server, fresh);
    a.send({ type: "agent_heartbeat", status_text: "Working" });
    expect(await inbox.waitFor((f) => f.type === "processing" && f.agent_id === fresh.id)).toMatchObject({ active: true, status_text: "Working" });
    await a.close();
    expect(await inbox.waitFor((f) => f.type === "processing" && f.agent_id === fresh.id)).toMatchObject({ active: false });
  });
});

test("metrics count open agent sockets", async () => {
  const a = await connectAgent(server, created);
  const text = server.ctx.metrics.render();
  expect(text).toMatch(/nod_agent_sockets_open [1-9]/);
  await a.close();
  await eventually(() => / nod_agent_sockets_open 0|nod_agent_sockets_open 0/.test(server.ctx.metrics.render()));
  void agent;
});
