// A NUL character (U+0000) anywhere a client sends text is refused with a 400
// naming where it is, on every store: PostgreSQL's text cannot hold it, and
// the same input must not be stored on one store and fail on the other.
// A webhook trigger's payload is stored as JSON, where it stays escaped, and
// reaches the agent as it was sent.
import { describe, expect, test } from "bun:test";
import { startTestServer, withAgent } from "./helpers.ts";
import { connectAgent } from "./ws-helpers.ts";

describe("NUL characters", async () => {
  const server = await startTestServer();
  const { person, agent, created } = await withAgent(server, { name: "Nul" });

  test("in an agent's event text: 400 naming the field; nothing stored", async () => {
    const r = await agent.event({ type: "message", text: "before\u0000after" });
    expect(r.status).toBe(400);
    expect(r.body.detail).toBe("text: contains a NUL character (U+0000), which nod does not store");
    const d = await agent.event({ type: "decision", kind: "choice", title: "Pick", description: "", options: ["a", "b\u0000"] });
    expect(d.status).toBe(400);
    expect(d.body.detail).toMatch(/^options\[1\]: contains a NUL character/);
    expect((await person.get(`/api/activity?agent_id=${created.id}`)).body).toEqual([]);
  });

  test("in a person's message, a path id or a query: 400 naming it", async () => {
    const m = await person.post(`/api/agents/${created.id}/messages`, { text: "hi\u0000" });
    expect([m.status, m.body.detail]).toEqual([400, "text: contains a NUL character (U+0000), which nod does not store"]);
    const byId = await person.get("/api/decisions/%00");
    expect([byId.status, byId.body.detail]).toEqual([400, "id: contains a NUL character (U+0000), which nod does not store"]);
    const q = await person.get("/api/activity?before=%00");
    expect([q.status, q.body.detail]).toEqual([400, "before: contains a NUL character (U+0000), which nod does not store"]);
  });

  test("in a WebSocket frame: an error frame with code 400; the socket stays open", async () => {
    const a = await connectAgent(server, created);
    const err = await a.request({ type: "alert", title: "x\u0000" });
    expect(err).toMatchObject({ type: "error", code: 400, detail: "frame.title: contains a NUL character (U+0000), which nod does not store" });
    expect(await a.request({ type: "alert", title: "fine" })).toMatchObject({ type: "ack", status: "ok" });
  });

  test("in a webhook trigger's JSON payload: accepted, and the agent gets it as sent", async () => {
    const task = (await agent.post("/api/agent/tasks", { name: "Hook", prompt: "p", schedule: "event" })).body as { trigger_id: string };
    const payload = { note: "a\u0000b" };
    const r = await fetch(`${server.url}/webhook/${task.trigger_id}`, { method: "POST", body: JSON.stringify(payload), headers: { "content-type": "application/json" } });
    expect(r.status).toBe(202);
    const pending = (await agent.get("/api/agent/tasks/triggers/pending")).body as { payload: unknown }[];
    expect(pending.map((p) => p.payload)).toEqual([payload]);
  });
});
