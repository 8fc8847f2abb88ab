// Agent isolation: every agent route and WebSocket frame that names another
// agent's conversation, request, task or run answers 404 and shows nothing of
// it; one agent's socket never receives another's events; a deleted agent's
// or rotated secret's sockets are closed and its credentials stop working.
import { describe, expect, test } from "bun:test";
import { AgentClient, owner, scenarios, startTestServer, twoAgents } from "./helpers.ts";
import { connectAgent } from "./ws-helpers.ts";

describe("agent isolation", async () => {
  const server = await startTestServer();
  const { person, cA, cB, A, B } = await twoAgents(server);

  // B's things
  const msg = await B.event({ type: "message", text: "B's secret plan" });
  const conv = msg.body.conversation_id as string;
  const dec = (await B.event({ type: "decision", kind: "question", title: "B's question", description: "private" })).body.decision_id as string;
  const task = (await B.post("/api/agent/tasks", { name: "B's task", prompt: "private prompt", schedule: "event" })).body;
  const run = (await B.post(`/api/agent/tasks/${task.id}/run/start`)).body.run_id as string;
  await B.post(`/api/agent/tasks/runs/${run}/context`, { text: "B's scratchpad" });

  const leaks = /secret plan|private|scratchpad|B's/;
  const NOT_FOUND = { status: 404, leaks };
  describe("REST: another agent's ids answer 404 at once and leak nothing", () => {
    scenarios([
      { name: "message into B's conversation", request: () => A.event({ type: "message", text: "x", conversation_id: conv }), ...NOT_FOUND },
      { name: "message naming B's run", request: () => A.event({ type: "message", text: "x", task_run_id: run }), ...NOT_FOUND },
      { name: "decision in B's conversation", request: () => A.event({ type: "decision", kind: "question", title: "t", description: "d", conversation_id: conv }), ...NOT_FOUND },
      { name: "decision naming B's run", request: () => A.event({ type: "decision", kind: "question", title: "t", description: "d", task_run_id: run }), ...NOT_FOUND },
      { name: "alert naming B's run", request: () => A.event({ type: "alert", title: "t", task_run_id: run }), ...NOT_FOUND },
      {
        name: "task_proposal in B's conversation",
        request: () => A.event({ type: "task_proposal", title: "t", task_name: "n", task_prompt: "p", task_schedule: "event", conversation_id: conv }),
        ...NOT_FOUND,
      },
      { name: "resolve B's decision", request: () => A.post("/api/agent/decisions/resolve", { decision_id: dec }), ...NOT_FOUND },
      { name: "read B's decision", request: () => A.get(`/api/agent/decisions/${dec}`), ...NOT_FOUND },
      // The longest wait there is: a poll that waited on B's request would outlast the test's timeout.
      { name: "long-poll B's decision", request: () => A.get(`/api/agent/decisions/${dec}?wait=60`), ...NOT_FOUND },
      { name: "start B's task", request: () => A.post(`/api/agent/tasks/${task.id}/run/start`), ...NOT_FOUND },
      { name: "read B's run", request: () => A.get(`/api/agent/tasks/runs/${run}`), ...NOT_FOUND },
      { name: "complete B's run", request: () => A.post(`/api/agent/tasks/runs/${run}/complete`, { status: "completed", summary: "x" }), ...NOT_FOUND },
      { name: "add to B's run context", request: () => A.post(`/api/agent/tasks/runs/${run}/context`, { text: "x" }), ...NOT_FOUND },
      { name: "read B's run context", request: () => A.get(`/api/agent/tasks/runs/${run}/context`), ...NOT_FOUND },
    ]);

    test("afterwards A's lists show only its own, and B's things are unchanged", async () => {
      // Nobody answered B's request: the long-poll's 404 came without waiting for it.
      expect((await B.get(`/api/agent/decisions/${dec}`)).body.status).toBe("pending");
      expect(JSON.stringify((await A.get("/api/agent/tasks")).body)).not.toContain(task.id);
      expect(JSON.stringify((await A.get("/api/agent/tasks/due")).body)).not.toContain(run);
      expect(JSON.stringify((await A.get("/api/agent/tasks/triggers/pending")).body)).not.toContain(run);
      expect((await B.get(`/api/agent/tasks/runs/${run}/context`)).body.blocks).toHaveLength(1);
    });
  });

  test("WebSocket: the same frames answer 404 errors; A's socket gets none of B's events", async () => {
    const a = await connectAgent(server, cA);
    for (const frame of [
      { type: "message", text: "x", conversation_id: conv },
      { type: "message", text: "x", task_run_id: run },
      { type: "decision", kind: "question", title: "t", description: "d", conversation_id: conv },
      { type: "alert", title: "t", task_run_id: run },
      { type: "task_proposal", title: "t", task_name: "n", task_prompt: "p", task_schedule: "event", conversation_id: conv },
    ]) {
      const r = await a.request(frame);
      expect({ frame: frame.type, r: r.type, code: r.code }).toEqual({ frame: frame.type, r: "error", code: 404 });
      expect(JSON.stringify(r)).not.toMatch(leaks);
    }
    // events for B (a person's reply, an answered request, a run) never reach A
    const b = await connectAgent(server, cB);
    await person.post(`/api/agents/${cB.id}/messages`, { text: "for B only" });
    await person.post(`/api/decisions/${dec}/respond`, { status: "responded", note: "answer for B" });
    await person.post(`/api/tasks/${task.id}/run`);
    await b.waitFor("user_message");
    await b.waitFor("decision_resolved");
    await b.waitFor("task_due");
    await a.expectNone((f) => !["ack", "error", "auth_ok"].includes(f.type), 200);
    await a.close();
    await b.close();
  });

  test("deleting an agent or rotating its secret closes its sockets and ends its credentials", async () => {
    const c = await person.createAgent({ name: "C" });
    const s1 = await connectAgent(server, c);
    const rotated = (await person.post(`/api/agents/${c.id}/secret`)).body.secret as string;
    expect((await s1.closed).code).toBe(4003);
    expect((await new AgentClient(server.url, c.id, c.secret).get("/api/agent/tasks")).status).toBe(401);
    const s2 = await connectAgent(server, { id: c.id, secret: rotated });
    expect((await person.delete(`/api/agents/${c.id}`)).status).toBe(204);
    expect((await s2.closed).code).toBe(4004);
    expect((await new AgentClient(server.url, c.id, rotated).get("/api/agent/tasks")).status).toBe(401);
  });
});
