import { describe, expect, test } from "bun:test";
import { AgentClient, PNG_1x1, request, startTestServer, withAgent } from "./helpers.ts";
import { like } from "drizzle-orm";
import { outbox } from "../server/db/tables.ts";

describe("agent API: POST /api/agent/events", async () => {
  const server = await startTestServer();
  const { person, agent, created } = await withAgent(server, { name: "Builder" });

  test("auth: missing headers or a wrong secret → 401 {detail}", async () => {
    const none = await request(server.url, "POST", "/api/agent/events", { body: { type: "message", text: "x" } });
    expect(none.status).toBe(401);
    expect(none.body.detail).toContain("X-Nod-Agent-Id");
    const wrong = await new AgentClient(server.url, created.id, "nod_" + "0".repeat(40)).event({ type: "message", text: "x" });
    expect(wrong.status).toBe(401);
    const unknown = await new AgentClient(server.url, "agt_0000000000000000", created.secret).event({ type: "message", text: "x" });
    expect(unknown.status).toBe(401);
    expect(unknown.body.detail).toBe(wrong.body.detail); // no hint whether the id exists
  });

  test("message: stored in the agent's default conversation, created on first use, and shown to people", async () => {
    const r = await agent.event({ type: "message", text: "**Deployed** v1.2" });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: "ok" });
    expect(r.body.message_id).toMatch(/^msg_/);
    expect(r.body.conversation_id).toMatch(/^conv_/);
    const again = await agent.event({ type: "message", text: "second" });
    expect(again.body.conversation_id).toBe(r.body.conversation_id);

    const convs = await person.get(`/api/agents/${created.id}/conversations`);
    expect(convs.body).toHaveLength(1);
    expect(convs.body[0].id).toBe(r.body.conversation_id);
    const msgs = await person.get(`/api/conversations/${r.body.conversation_id}/messages`);
    expect(msgs.body.map((m: any) => m.text)).toEqual(["**Deployed** v1.2", "second"]);
    expect(msgs.body[0]).toMatchObject({ id: r.body.message_id, role: "agent", image_url: null, report_title: null, task_run_id: null });
    expect(msgs.body[0].created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const act = await person.get(`/api/agents/${created.id}/activity`);
    expect(act.body[0]).toMatchObject({ type: "agent_message", agent_id: created.id });
  });

  test("message: report card fields are kept", async () => {
    const r = await agent.event({ type: "message", text: "# Report\nAll good", report_title: "Weekly report", report_description: "3 findings" });
    const msgs = await person.get(`/api/conversations/${r.body.conversation_id}/messages`);
    expect(msgs.body.at(-1)).toMatchObject({ report_title: "Weekly report", report_description: "3 findings", text: "# Report\nAll good" });
  });

  test("message: image_base64 (with or without data-URI prefix) is stored and served at a public URL", async () => {
    for (const image of [PNG_1x1, `data:image/png;base64,${PNG_1x1}`]) {
      const r = await agent.event({ type: "message", image_base64: image });
      expect(r.status).toBe(200);
      const msgs = await person.get(`/api/conversations/${r.body.conversation_id}/messages`);
      const url: string = msgs.body.at(-1).image_url;
      expect(url).toMatch(/^http:\/\/localhost:\d+\/media\/[0-9a-f]{32}\.png$/);
      const img = await fetch(server.url + new URL(url).pathname);
      expect(img.status).toBe(200);
      expect(img.headers.get("content-type")).toBe("image/png");
      expect(Buffer.from(await img.arrayBuffer()).equals(Buffer.from(PNG_1x1, "base64"))).toBe(true);
    }
    expect((await fetch(server.url + "/media/" + "0".repeat(32) + ".png")).status).toBe(404);
    expect((await fetch(server.url + "/media/../nod.db")).status).toBe(404);
  });

  test("message to a conversation of another agent → 404", async () => {
    const other = await person.createAgent({ name: "Other" });
    const otherClient = new AgentClient(server.url, other.id, other.secret);
    const theirs = await otherClient.event({ type: "message", text: "mine" });
    const r = await agent.event({ type: "message", text: "sneaky", conversation_id: theirs.body.conversation_id });
    expect(r.status).toBe(404);
    expect(r.body.detail).toBe("conversation not found");
  });

  test("approval-only agents cannot send messages (403) but can ask and log", async () => {
    const gate = await person.createAgent({ name: "Gate", type: "approval_only" });
    const c = new AgentClient(server.url, gate.id, gate.secret);
    const r = await c.event({ type: "message", text: "hello" });
    expect(r.status).toBe(403);
    expect(r.body.detail).toContain("approval-only");
    expect((await c.event({ type: "decision", title: "Ship?", description: "", kind: "approval" })).status).toBe(200);
    expect((await c.event({ type: "alert", title: "ran" })).status).toBe(200);
  });

  test("decision: each kind is stored as a pending request people can see", async () => {
    const kinds = [
      { kind: "approval", title: "Deploy to production?", description: "Build #42 passed all tests." },
      { kind: "choice", title: "Database?", description: "Which one?", options: ["PostgreSQL", "SQLite", "MongoDB"] },
      { kind: "question", title: "Project name?", description: "What should I name it?" },
      {
        kind: "permission",
        title: "Allow: Bash(npm install stripe)",
        description: "The agent wants to run this command.",
        allows_always: true,
        always_allow_label: "Always allow npm installs",
        always_allow_options: [
          { pattern: "Bash(npm install *)", label: "All npm installs" },
          { pattern: "Bash(npm install stripe)", label: "This command" },
        ],
      },
    ];
    for (const d of kinds) {
      const r = await agent.event({ type: "decision", ...d });
      expect(r.status).toBe(200);
      expect(r.body.status).toBe("ok");
      expect(r.body.decision_id).toMatch(/^dec_/);
      const list = await person.get(`/api/decisions?status=pending&agent_id=${created.id}`);
      const got = list.body.find((x: any) => x.id === r.body.decision_id);
      expect(got).toMatchObject({ ...d, status: "pending", agent_id: created.id, conversation_id: null });
    }
    const act = await person.get(`/api/agents/${created.id}/activity?limit=1`);
    expect(act.body[0]).toMatchObject({ type: "decision_created" });
  });

  test("a choice without options is accepted: people answer it in the free-text Other field", async () => {
    const r = await agent.event({ type: "decision", title: "Name a colour", description: "", kind: "choice" });
    expect(r.status).toBe(200);
    const d = (await person.get(`/api/decisions/${r.body.decision_id}`)).body;
    expect(d).toMatchObject({ kind: "choice", options: null, status: "pending" });
    expect((await person.post(`/api/decisions/${d.id}/respond`, { status: "responded", note: "teal" })).body.note).toBe("teal");
  });

  test("decision with a conversation_id shows in that chat", async () => {
    const m = await agent.event({ type: "message", text: "about to ask" });
    const r = await agent.event({ type: "decision", title: "Go?", description: "", kind: "approval", conversation_id: m.body.conversation_id });
    const d = (await person.get(`/api/decisions/${r.body.decision_id}`)).body;
    expect(d.conversation_id).toBe(m.body.conversation_id);
  });

  test("alert → activity entry; status ok with activity_id", async () => {
    const r = await agent.event({ type: "alert", title: "Running: npm install stripe", text: "in /app" });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe("ok");
    expect(r.body.activity_id).toMatch(/^act_/);
    const act = await person.get(`/api/activity?agent_id=${created.id}&limit=1`);
    expect(act.body[0]).toMatchObject({ id: r.body.activity_id, type: "agent_action", title: "Running: npm install stripe", text: "in /app", task_run_id: null });
  });

  test("processing_start / processing_stop → {status: ok}", async () => {
    expect((await agent.event({ type: "processing_start", status_text: "Reading files" })).body).toEqual({ status: "ok" });
    expect((await agent.event({ type: "processing_stop" })).body).toEqual({ status: "ok" });
  });

  test("task_proposal → an approval request with the proposed task; decision_id returned", async () => {
    const r = await agent.event({ type: "task_proposal", title: "Schedule: Daily summary", task_name: "Daily summary", task_prompt: "Summarize git activity", task_schedule: "0 9 * * 1-5" });
    expect(r.status).toBe(200);
    expect(r.body.decision_id).toMatch(/^dec_/);
    const d = (await person.get(`/api/decisions/${r.body.decision_id}`)).body;
    expect(d).toMatchObject({ kind: "approval", status: "pending", task_proposal: { task_name: "Daily summary", task_prompt: "Summarize git activity", task_schedule: "0 9 * * 1-5" } });
  });

  test.each([
    ["no type", { text: "x" }, 400, "type: required"],
    ["unknown type", { type: "shout" }, 400, 'unknown event type "shout"'],
    ["type not a string", { type: 7 }, 400, "type: unknown event type 7"],
    ["message without text or image", { type: "message" }, 400, "text: required unless image_base64 is given"],
    ["message text of the wrong type", { type: "message", text: 42 }, 400, "text:"],
    ["decision without title", { type: "decision", description: "d", kind: "approval" }, 400, "title: required"],
    ["decision without description", { type: "decision", title: "t", kind: "approval" }, 400, "description: required"],
    ["decision with a bad kind", { type: "decision", title: "t", description: "d", kind: "vote" }, 400, "kind: must be one of"],
    ["options not strings", { type: "decision", title: "t", description: "d", kind: "choice", options: [1] }, 400, "options.0:"],
    ["alert without title", { type: "alert" }, 400, "title: required"],
    ["proposal without schedule", { type: "task_proposal", title: "t", task_name: "n", task_prompt: "p" }, 400, "task_schedule: required"],
    ["image that is not base64", { type: "message", image_base64: "%%%" }, 400, "image_base64: not valid base64"],
    ["image that is not an image", { type: "message", image_base64: Buffer.from("hello world").toString("base64") }, 400, "image_base64: not a PNG"],
    ["task_run_id that is not a run of this agent", { type: "alert", title: "x", task_run_id: "run_nope" }, 404, "task run not found"],
    ["WebSocket-only frame over REST", { type: "agent_heartbeat" }, 400, "unknown event type"],
  ])("%s → %i", async (_n, body, status, detail) => {
    const r = await agent.event(body as Record<string, unknown>);
    expect(r.status).toBe(status);
    expect(r.body.detail).toContain(detail);
  });

  test("a body that is not a JSON object → 400", async () => {
    const h = { "x-nod-agent-id": created.id, "x-nod-secret": created.secret };
    for (const raw of ["{not json", "[1,2]", '"text"', "null"]) {
      const r = await request(server.url, "POST", "/api/agent/events", { raw, headers: { ...h, "content-type": "application/json" } });
      expect(r.status, raw).toBe(400);
      expect(r.body.detail).toMatch(/^body: /);
    }
    // no content-type at all is still read as JSON (curl -d sends form type)
    const r = await request(server.url, "POST", "/api/agent/events", { raw: '{"type":"alert","title":"plain"}', headers: { ...h, "content-type": "application/x-www-form-urlencoded" } });
    expect(r.status).toBe(200);
  });

  test("an oversized body → 413", async () => {
    const big = "x".repeat(9 * 1024 * 1024);
    const r = await agent.event({ type: "message", text: big });
    expect(r.status).toBe(413);
    expect(r.body.detail).toContain("too large");
    const img = Buffer.alloc(5.5 * 1024 * 1024, 1); // over 5 MB decoded, under the 8 MiB body limit encoded
    img.set([0x89, 0x50, 0x4e, 0x47]);
    const r2 = await agent.event({ type: "message", image_base64: img.toString("base64") });
    expect(r2.status).toBe(413);
    expect(r2.body.detail).toContain("image_base64");
  });
});

describe("agent API: POST /api/agent/decisions/resolve", async () => {
  const server = await startTestServer();
  const { person, agent } = await withAgent(server);
  const ask = async (kind = "question") =>
    (await agent.event({ type: "decision", title: "Name?", description: "", kind, ...(kind === "choice" ? { options: ["a"] } : {}) })).body.decision_id as string;

  test("resolves the agent's own request as responded; no event goes back to it", async () => {
    const id = await ask();
    const r = await agent.post("/api/agent/decisions/resolve", { decision_id: id, note: "User said in chat: nod-api" });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: "resolved", decision_id: id });
    const d = (await person.get(`/api/decisions/${id}`)).body;
    expect(d).toMatchObject({ status: "responded", note: "User said in chat: nod-api", resolved_by: "agent" });
    const queued = await server.ctx.db.select({ id: outbox.id }).from(outbox).where(like(outbox.payload, `%${id}%`));
    expect(queued).toEqual([]);
  });

  test("already resolved → 409", async () => {
    const id = await ask();
    await agent.post("/api/agent/decisions/resolve", { decision_id: id });
    const r = await agent.post("/api/agent/decisions/resolve", { decision_id: id });
    expect(r.status).toBe(409);
  });

  test("permission requests → 400", async () => {
    const id = await ask("permission");
    const r = await agent.post("/api/agent/decisions/resolve", { decision_id: id });
    expect(r.status).toBe(400);
    expect(r.body.detail).toContain("permission");
  });

  test("another agent's decision → 404, unknown → 404, missing decision_id → 400", async () => {
    const id = await ask();
    const other = await person.createAgent({ name: "Other" });
    const r = await new AgentClient(server.url, other.id, other.secret).post("/api/agent/decisions/resolve", { decision_id: id });
    expect(r.status).toBe(404);
    expect((await agent.post("/api/agent/decisions/resolve", { decision_id: "dec_nope" })).status).toBe(404);
    const missing = await agent.post("/api/agent/decisions/resolve", { note: "x" });
    expect(missing.status).toBe(400);
    expect(missing.body.detail).toBe("decision_id: required");
  });
});
