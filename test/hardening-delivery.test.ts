// Hardening of the delivery path and the indicator events:
// - "Thinking…" events (processing_start/stop, agent_heartbeat, agent_idle)
//   naming another agent's conversation, or none that exists, answer 404.
import { describe, expect, test } from "bun:test";
import { AgentClient, owner, startTestServer } from "./helpers.ts";
import { connectAgent, connectInbox } from "./ws-helpers.ts";

describe("indicator events check the conversation they name", async () => {
  const server = await startTestServer();
  const person = await owner(server);
  const cA = await person.createAgent({ name: "A" });
  const cB = await person.createAgent({ name: "B" });
  const A = new AgentClient(server.url, cA.id, cA.secret);
  const B = new AgentClient(server.url, cB.id, cB.secret);
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
    const shown = inbox.all("processing").map((f) => [f.conversation_id, f.active]);
    expect(shown).toEqual([
      [own, true],
      [own, false],
    ]);
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
