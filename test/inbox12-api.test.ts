// What the inbox (issue 12) needs from the server: REST-only agents get a
// last_seen_at, activity entries say what they are about (ref_id) and how it
// ended (outcome), with a preview of messages and a ?type= filter, and one
// message can be fetched by id (where the activity feed links to).
import { describe, expect, test } from "bun:test";
import { eventually, startTestServer, withAgent } from "./helpers.ts";

describe("inbox 12: server side", async () => {
  let shift = 0; // the server's clock runs ahead by this much: a second passes without waiting for it
  const server = await startTestServer({ now: () => Date.now() + shift });
  const { person, created, agent } = await withAgent(server, { name: "Rest Bot" });
  const agentView = async () => (await person.get(`/api/agents/${created.id}`)).body;

  test("a REST-only agent's requests record last_seen_at, at most once a minute", async () => {
    expect((await agentView()).last_seen_at).toBeNull();
    expect((await agent.get("/api/agent/tasks/due")).status).toBe(200);
    const first = await eventually(async () => (await agentView()).last_seen_at, 5000, "last_seen_at after a REST request");
    expect(Date.parse(first)).not.toBeNaN();
    // Within the minute: no second write (the value stays the same).
    shift += 1100;
    expect((await agent.event({ type: "alert", title: "still here" })).status).toBe(200);
    expect((await agentView()).last_seen_at).toBe(first);
    // A wrong secret records nothing for anyone.
    const other = await person.createAgent({ name: "Quiet Bot" });
    const bad = await fetch(`${server.url}/api/agent/tasks/due`, { headers: { "x-nod-agent-id": other.id, "x-nod-secret": "nod_" + "0".repeat(40) } });
    expect(bad.status).toBe(401);
    expect((await person.get(`/api/agents/${other.id}`)).body.last_seen_at).toBeNull();
  });

  test("activity entries link to their request and say how it ended", async () => {
    const asked = await agent.event({ type: "decision", kind: "approval", title: "Ship it?", description: "v2" });
    const dismissed = await agent.event({ type: "decision", kind: "approval", title: "Also this?", description: "" });
    const id = asked.body.decision_id;
    expect((await person.post(`/api/decisions/${id}/respond`, { status: "rejected", note: "not on a Friday" })).status).toBe(200);
    expect((await person.post(`/api/decisions/${dismissed.body.decision_id}/respond`, { status: "dismissed" })).status).toBe(200);
    const feed = (await person.get(`/api/agents/${created.id}/activity`)).body as any[];
    const created_ = feed.find((a) => a.type === "decision_created" && a.ref_id === id);
    expect(created_).toMatchObject({ title: "Rest Bot asked: Ship it?", outcome: null });
    expect(feed.find((a) => a.type === "decision_resolved" && a.ref_id === id)).toMatchObject({ outcome: "rejected", text: "not on a Friday" });
    expect(feed.find((a) => a.type === "decision_resolved" && a.ref_id === dismissed.body.decision_id)).toMatchObject({ outcome: "dismissed" });
  });

  test("a message's entry shows its start and links to it; GET /api/messages/:id finds its conversation", async () => {
    const long = "Deployed **v2** to production.\n\n" + "All checks passed. ".repeat(30);
    const sent = await agent.event({ type: "message", text: long });
    expect(sent.status).toBe(200);
    const entry = (await person.get(`/api/activity?agent_id=${created.id}&type=agent_message`)).body[0];
    expect(entry).toMatchObject({ type: "agent_message", ref_id: sent.body.message_id });
    expect(entry.text.startsWith("Deployed **v2** to production. All checks passed.")).toBe(true);
    expect(entry.text.length).toBeLessThanOrEqual(200);
    const m = await person.get(`/api/messages/${sent.body.message_id}`);
    expect(m.status).toBe(200);
    expect(m.body).toMatchObject({ id: sent.body.message_id, conversation_id: sent.body.conversation_id, text: long });
    expect((await person.get("/api/messages/msg_nope")).status).toBe(404);
  });

  test("?type= filters the feed; an unknown type is a 400 naming the field", async () => {
    const only = (await person.get(`/api/agents/${created.id}/activity?type=decision_resolved`)).body as any[];
    expect(only.length).toBe(2);
    expect(only.every((a) => a.type === "decision_resolved")).toBe(true);
    const bad = await person.get("/api/activity?type=gossip");
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toContain("type");
  });

  test("a finished run's entry carries the run and its outcome", async () => {
    const task = await person.post(`/api/agents/${created.id}/tasks`, { name: "Nightly", prompt: "Check", schedule: "0 3 * * *" });
    expect(task.status).toBe(201);
    const started = await agent.post(`/api/agent/tasks/${task.body.id}/run/start`);
    expect(started.status).toBe(200);
    const run = started.body.run_id;
    expect((await agent.post(`/api/agent/tasks/runs/${run}/complete`, { status: "failed", summary: "disk full" })).status).toBe(200);
    const entry = (await person.get(`/api/activity?agent_id=${created.id}&type=system`)).body[0];
    expect(entry).toMatchObject({ title: "Nightly: run failed", ref_id: run, task_run_id: run, outcome: "failed" });
  });
});
