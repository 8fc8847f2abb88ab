import { describe, expect, test } from "bun:test";
import { AgentClient, owner, startTestServer } from "./helpers.ts";

describe("people: agents", async () => {
  const server = await startTestServer();
  const alice = await owner(server);

  test("create returns the id, secret and webhook secret in their formats, once", async () => {
    const r = await alice.post("/api/agents", { name: "Deploy Bot", avatar: "robot", webhook_url: "http://127.0.0.1:9/hook" });
    expect(r.status).toBe(201);
    expect(r.body.id).toMatch(/^agt_[0-9a-f]{16}$/);
    expect(r.body.secret).toMatch(/^nod_[0-9a-f]{40}$/);
    expect(r.body.webhook_secret).toMatch(/^whsec_[0-9a-f]{32,}$/);
    expect(r.body).toMatchObject({ name: "Deploy Bot", avatar: "robot", type: "interactive", webhook_url: "http://127.0.0.1:9/hook", online: false });

    const one = await alice.get(`/api/agents/${r.body.id}`);
    expect(one.status).toBe(200);
    expect(one.body.webhook_secret).toBe(r.body.webhook_secret);
    expect(one.body.secret).toBeUndefined();

    const list = await alice.get("/api/agents");
    const listed = list.body.find((a: any) => a.id === r.body.id);
    expect(listed).toMatchObject({ name: "Deploy Bot", online: false, pending_requests: 0, unread_messages: 0 });
    expect(JSON.stringify(list.body)).not.toContain(r.body.secret);
    expect(listed.webhook_secret).toBeUndefined();
  });

  test("type approval_only is kept; type defaults to interactive", async () => {
    const a = await alice.createAgent({ name: "Gate", type: "approval_only" });
    expect(a.type).toBe("approval_only");
    expect((await alice.createAgent({ name: "Chat" })).type).toBe("interactive");
  });

  test.each([
    ["missing name", {}, "name: required"],
    ["name of the wrong type", { name: 5 }, "name:"],
    ["empty name", { name: "   " }, "name: must not be empty"],
    ["unknown type", { name: "x", type: "robot" }, "type: must be 'interactive' or 'approval_only'"],
    ["webhook_url not a URL", { name: "x", webhook_url: "not a url" }, "webhook_url: not a valid URL"],
    ["webhook_url not http", { name: "x", webhook_url: "ftp://example.com/x" }, "webhook_url: must be http or https"],
  ])("create with %s → 400", async (_name, body, detail) => {
    const r = await alice.post("/api/agents", body);
    expect(r.status).toBe(400);
    expect(r.body.detail).toContain(detail);
  });

  test("invalid JSON → 400 naming the body", async () => {
    const r = await alice.call("POST", "/api/agents", undefined, { "content-type": "application/json" });
    expect(r.status).toBe(400);
  });

  test("update changes the fields given", async () => {
    const a = await alice.createAgent({ name: "Old" });
    const r = await alice.patch(`/api/agents/${a.id}`, { name: "New", webhook_url: "https://example.com/hook", type: "approval_only" });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: a.id, name: "New", webhook_url: "https://example.com/hook", type: "approval_only" });
    const cleared = await alice.patch(`/api/agents/${a.id}`, { webhook_url: null });
    expect(cleared.body.webhook_url).toBeNull();
    expect((await alice.patch(`/api/agents/${a.id}`, { type: "boss" })).status).toBe(400);
  });

  test("unknown agent → 404 on every route", async () => {
    const id = "agt_0000000000000000";
    expect((await alice.get(`/api/agents/${id}`)).status).toBe(404);
    expect((await alice.patch(`/api/agents/${id}`, { name: "x" })).status).toBe(404);
    expect((await alice.delete(`/api/agents/${id}`)).status).toBe(404);
    expect((await alice.post(`/api/agents/${id}/secret`)).status).toBe(404);
    expect((await alice.get(`/api/agents/${id}/conversations`)).status).toBe(404);
    expect((await alice.get(`/api/agents/${id}/activity`)).status).toBe(404);
  });

  test("rotating the secret: the new one works, the old one stops at once", async () => {
    const a = await alice.createAgent();
    const old = new AgentClient(server.url, a.id, a.secret);
    expect((await old.event({ type: "alert", title: "hi" })).status).toBe(200);
    const r = await alice.post(`/api/agents/${a.id}/secret`);
    expect(r.status).toBe(200);
    expect(r.body.secret).toMatch(/^nod_[0-9a-f]{40}$/);
    expect((await old.event({ type: "alert", title: "hi" })).status).toBe(401);
    expect((await new AgentClient(server.url, a.id, r.body.secret).event({ type: "alert", title: "hi" })).status).toBe(200);
  });

  test("deleting an agent: 204, its credentials stop working, it is gone", async () => {
    const a = await alice.createAgent();
    const client = new AgentClient(server.url, a.id, a.secret);
    await client.event({ type: "message", text: "bye" });
    expect((await alice.delete(`/api/agents/${a.id}`)).status).toBe(204);
    expect((await client.event({ type: "alert", title: "still here?" })).status).toBe(401);
    expect((await alice.get(`/api/agents/${a.id}`)).status).toBe(404);
  });
});
