// The people's side of the agent data: chatting, answering requests, activity,
// and what each of those leaves in the outbox for delivery to the agent.
import { describe, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import { outbox as outboxTable } from "../server/db/tables.ts";
import { AgentClient, startTestServer, withAgent } from "./helpers.ts";

describe("people: messages, requests, activity", async () => {
  const server = await startTestServer();
  const { person, agent, created } = await withAgent(server, { name: "Helper" });
  const outbox = async (type: string) =>
    (
      await server.ctx.db
        .select({ payload: outboxTable.payload })
        .from(outboxTable)
        .where(and(eq(outboxTable.agentId, created.id), eq(outboxTable.type, type as "user_message")))
        .orderBy(outboxTable.id)
    ).map((r) => JSON.parse(r.payload));

  test("a person's message is stored and queued as user_message with the Nod fields", async () => {
    const r = await person.post(`/api/agents/${created.id}/messages`, { text: "Hello agent" });
    expect(r.status).toBe(201);
    expect(r.body.message_id).toMatch(/^msg_/);
    expect(r.body.conversation_id).toMatch(/^conv_/);
    const msgs = await person.get(`/api/conversations/${r.body.conversation_id}/messages`);
    expect(msgs.body.at(-1)).toMatchObject({ role: "user", text: "Hello agent", sender_name: "alice" });
    const ev = (await outbox("user_message")).at(-1);
    expect(ev).toMatchObject({
      type: "user_message",
      text: "Hello agent",
      sender_name: "alice",
      conversation_id: r.body.conversation_id,
      message_id: r.body.message_id,
      image_url: null,
      image_urls: null,
      audio_url: null,
    });
    expect(ev.event_id).toMatch(/^evt_/);
  });

  test("message bad input: empty text 400, unknown conversation 404, approval-only agent 403", async () => {
    const empty = await person.post(`/api/agents/${created.id}/messages`, { text: "" });
    expect(empty.status).toBe(400);
    expect(empty.body.detail).toContain("text");
    expect((await person.post(`/api/agents/${created.id}/messages`, {})).body.detail).toBe("text: required");
    expect((await person.post(`/api/agents/${created.id}/messages`, { text: "x", conversation_id: "conv_nope" })).status).toBe(404);
    const gate = await person.createAgent({ name: "Gate", type: "approval_only" });
    const r = await person.post(`/api/agents/${gate.id}/messages`, { text: "hi" });
    expect(r.status).toBe(403);
  });

  test("messages page oldest first with ?limit and ?before", async () => {
    let conv = "";
    for (let i = 1; i <= 5; i++) conv = (await agent.event({ type: "message", text: `m${i}`, conversation_id: conv || undefined })).body.conversation_id;
    const all = (await person.get(`/api/conversations/${conv}/messages?limit=200`)).body.map((m: any) => m.text);
    expect(all.slice(-5)).toEqual(["m1", "m2", "m3", "m4", "m5"]);
    const last2 = (await person.get(`/api/conversations/${conv}/messages?limit=2`)).body;
    expect(last2.map((m: any) => m.text)).toEqual(["m4", "m5"]);
    const before = (await person.get(`/api/conversations/${conv}/messages?limit=2&before=${last2[0].id}`)).body;
    expect(before.map((m: any) => m.text)).toEqual(["m2", "m3"]);
    expect((await person.get(`/api/conversations/${conv}/messages?limit=0`)).status).toBe(400);
    expect((await person.get(`/api/conversations/${conv}/messages?limit=201`)).status).toBe(400);
    expect((await person.get(`/api/conversations/${conv}/messages?limit=abc`)).status).toBe(400);
    expect((await person.get(`/api/conversations/conv_nope/messages`)).status).toBe(404);
  });

  test("unread counts drop when a conversation is read", async () => {
    const m = await agent.event({ type: "message", text: "unread?" });
    const before = (await person.get("/api/agents")).body.find((a: any) => a.id === created.id);
    expect(before.unread_messages).toBeGreaterThan(0);
    expect((await person.post(`/api/conversations/${m.body.conversation_id}/read`)).status).toBe(204);
    const after = (await person.get("/api/agents")).body.find((a: any) => a.id === created.id);
    expect(after.unread_messages).toBe(0);
  });

  const ask = async (body: Record<string, unknown>) => (await agent.event({ type: "decision", description: "", ...body })).body.decision_id as string;

  test.each([
    ["approval", {}, "approved", "Go ahead"],
    ["approval", {}, "rejected", "Not today"],
    ["choice", { options: ["PostgreSQL", "SQLite"] }, "responded", "SQLite"],
    ["choice", { options: ["PostgreSQL", "SQLite"] }, "responded", "DuckDB (typed in Other)"],
    ["question", {}, "responded", "nod-payments-api"],
    ["permission", {}, "rejected", null],
  ])("%s answered %s → decision_resolved queued for the agent", async (kind, extra, status, note) => {
    const id = await ask({ kind, title: `${kind} ${status}`, ...extra });
    const r = await person.post(`/api/decisions/${id}/respond`, { status, note });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id, status, note, resolved_by: "alice" });
    expect(r.body.resolved_at).toMatch(/Z$/);
    const ev = (await outbox("decision_resolved")).find((e) => e.decision_id === id);
    expect(ev).toMatchObject({ type: "decision_resolved", decision_id: id, status, note, title: `${kind} ${status}`, always_allow: false, always_allow_pattern: null });
    expect(ev.created_at).toMatch(/Z$/);
  });

  test("permission with always allow carries the chosen pattern", async () => {
    const id = await ask({
      kind: "permission",
      title: "Allow: Bash(npm install stripe)",
      always_allow_options: [
        { pattern: "Bash(npm install *)", label: "All npm installs" },
        { pattern: "Bash(npm install stripe)", label: "This command" },
      ],
    });
    const r = await person.post(`/api/decisions/${id}/respond`, { status: "approved", always_allow: true, always_allow_pattern: "Bash(npm install *)" });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ always_allow: true, always_allow_pattern: "Bash(npm install *)" });
    expect((await outbox("decision_resolved")).find((e) => e.decision_id === id)).toMatchObject({ status: "approved", always_allow: true, always_allow_pattern: "Bash(npm install *)" });
  });

  test("a dismissed request sends nothing to the agent", async () => {
    const id = await ask({ kind: "approval", title: "dismiss me" });
    const r = await person.post(`/api/decisions/${id}/respond`, { status: "dismissed" });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe("dismissed");
    expect((await outbox("decision_resolved")).find((e) => e.decision_id === id)).toBeUndefined();
  });

  test.each([
    ["approval", "responded"],
    ["choice", "approved"],
    ["question", "rejected"],
    ["permission", "responded"],
  ])("a %s request answered %s → 400", async (kind, status) => {
    const id = await ask({ kind, title: "t", ...(kind === "choice" ? { options: ["a"] } : {}) });
    const r = await person.post(`/api/decisions/${id}/respond`, { status });
    expect(r.status).toBe(400);
    expect(r.body.detail).toContain(`does not fit a ${kind} request`);
  });

  test("respond: bad status 400, always_allow outside permission 400, twice 409, unknown 404", async () => {
    const id = await ask({ kind: "approval", title: "t" });
    const bad = await person.post(`/api/decisions/${id}/respond`, { status: "maybe" });
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toContain("status");
    expect((await person.post(`/api/decisions/${id}/respond`, { status: "approved", always_allow: true })).status).toBe(400);
    expect((await person.post(`/api/decisions/${id}/respond`, { status: "approved" })).status).toBe(200);
    const again = await person.post(`/api/decisions/${id}/respond`, { status: "rejected" });
    expect(again.status).toBe(409);
    expect(again.body.detail).toContain("already approved");
    expect((await person.post(`/api/decisions/dec_nope/respond`, { status: "approved" })).status).toBe(404);
  });

  test("GET /api/decisions filters by status and agent, newest first", async () => {
    const other = await person.createAgent({ name: "Other" });
    const otherAgent = new AgentClient(server.url, other.id, other.secret);
    const mine = await ask({ kind: "question", title: "mine" });
    const theirs = (await otherAgent.event({ type: "decision", title: "theirs", description: "", kind: "question" })).body.decision_id;
    const pending = (await person.get("/api/decisions?status=pending")).body.map((d: any) => d.id);
    expect(pending.indexOf(theirs)).toBeLessThan(pending.indexOf(mine));
    const onlyOther = (await person.get(`/api/decisions?agent_id=${other.id}`)).body;
    expect(onlyOther.map((d: any) => d.id)).toEqual([theirs]);
    const resolved = (await person.get("/api/decisions?status=resolved")).body;
    expect(resolved.every((d: any) => d.status !== "pending")).toBe(true);
    expect((await person.get("/api/decisions?status=open")).status).toBe(400);
  });

  test("activity: per agent and across agents, newest first, with resolution entries", async () => {
    const id = await ask({ kind: "approval", title: "Deploy?" });
    await person.post(`/api/decisions/${id}/respond`, { status: "approved" });
    const mine = (await person.get(`/api/agents/${created.id}/activity?limit=2`)).body;
    expect(mine[0]).toMatchObject({ type: "decision_resolved", title: "alice approved: Deploy?" });
    expect(mine[1]).toMatchObject({ type: "decision_created" });
    const page2 = (await person.get(`/api/agents/${created.id}/activity?limit=1&before=${mine[0].id}`)).body;
    expect(page2[0].id).toBe(mine[1].id);
    const all = (await person.get("/api/activity")).body;
    expect(all.length).toBeGreaterThan(2);
    expect(all.map((a: any) => a.id)).toEqual([...all.map((a: any) => a.id)].sort().reverse());
  });
});

test("data survives a restart of the process", async () => {
  let server = await startTestServer();
  const { person, agent, created } = await withAgent(server);
  const m = await agent.event({ type: "message", text: "remember me" });
  const d = (await agent.event({ type: "decision", title: "Still pending?", description: "", kind: "approval" })).body.decision_id;
  await person.post(`/api/agents/${created.id}/messages`, { text: "queued for the agent" });

  server = await server.restart();
  // the session, the agent's credentials and the data are all still there
  const again = new AgentClient(server.url, created.id, created.secret);
  expect((await again.event({ type: "alert", title: "back" })).status).toBe(200);
  expect((await person.get("/api/agents")).status).toBe(200);
  const msgs = (await person.get(`/api/conversations/${m.body.conversation_id}/messages`)).body.map((x: any) => x.text);
  expect(msgs).toEqual(["remember me", "queued for the agent"]);
  expect((await person.get(`/api/decisions/${d}`)).body.status).toBe("pending");
  const queued = await server.ctx.db.select({ id: outboxTable.id }).from(outboxTable).where(eq(outboxTable.type, "user_message"));
  expect(queued).toHaveLength(1);
});
