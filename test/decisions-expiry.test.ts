// Requests that expire (expires_in) and requests the agent withdraws
// (POST /api/agent/decisions/:id/cancel, the decision_cancel frame): nod's
// additions to the agent API (API.md "Requests: expiry and withdrawal").
import { describe, expect, test } from "bun:test";
import { AgentClient, eventually, startTestServer, withAgent, type TestServer } from "./helpers.ts";
import { connectAgent, connectInbox } from "./ws-helpers.ts";

const KINDS = {
  approval: {},
  choice: { options: ["PostgreSQL", "SQLite"] },
  question: {},
  permission: { always_allow_options: [{ pattern: "Bash(npm install *)", label: "All npm installs" }] },
} as const;

async function ask(agent: AgentClient, kind: keyof typeof KINDS = "approval", extra: Record<string, unknown> = {}) {
  const res = await agent.event({ type: "decision", kind, title: `A ${kind}`, description: "please", ...KINDS[kind], ...extra });
  expect(res.status).toBe(200);
  return res.body.decision_id as string;
}

/** The agent's long-poll view, once its status is no longer pending. */
async function settled(agent: AgentClient, id: string) {
  return eventually(async () => {
    const r = await agent.get(`/api/agent/decisions/${id}?wait=5`);
    return r.body.status !== "pending" ? r.body : null;
  }, 20_000, `request ${id} settled`);
}

describe("expiry", async () => {
  // The server's clock runs with real time; a test moves it on instead of
  // sleeping, then runs the expiry pass the timer would have run.
  let ahead = 0;
  const now = () => Date.now() + ahead;
  const later = async (ms: number) => {
    ahead += ms;
    await server.live.expiry.tick();
  };
  let server: TestServer = await startTestServer({ now });
  const { person, created, agent } = await withAgent(server, { name: "Impatient" });

  test("expires_in must be whole seconds from 1 to 604800 (400 naming the field), over REST and the socket", async () => {
    for (const bad of [0, -5, 604_801, 1.5, "60", true]) {
      const res = await agent.event({ type: "decision", kind: "approval", title: "T", description: "", expires_in: bad });
      expect(res.status).toBe(400);
      expect(res.body.detail).toContain("expires_in");
    }
    const ok = await agent.event({ type: "decision", kind: "approval", title: "A week", description: "", expires_in: 604_800 });
    expect(ok.status).toBe(200);
    const week = (await agent.get(`/api/agent/decisions/${ok.body.decision_id}`)).body;
    expect(week.status).toBe("pending");
    expect(week.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Date.parse(week.expires_at) - Date.parse(week.created_at)).toBe(604_800_000);

    const a = await connectAgent(server, created);
    const err = await a.request({ type: "decision", kind: "approval", title: "T", description: "", expires_in: 0 });
    expect(err).toMatchObject({ type: "error", code: 400 });
    expect(err.detail).toContain("expires_in");
    await a.close();
  });

  test("without expires_in a request has expires_at null and stays pending", async () => {
    const id = await ask(agent, "approval", { title: "No hurry" });
    expect((await agent.get(`/api/agent/decisions/${id}`)).body).toMatchObject({ status: "pending", expires_at: null });
    expect((await person.get(`/api/decisions/${id}`)).body).toMatchObject({ status: "pending", expires_at: null });
  });

  test("a request nobody answers expires: the agent's socket, the inbox and long-polls see status expired; a late answer is 409", async () => {
    const a = await connectAgent(server, created);
    const inbox = await connectInbox(server, person);
    const ack = await a.request({ type: "decision", kind: "approval", title: "Deploy now?", description: "", expires_in: 1 });
    const id = ack.decision_id as string; // (read before toMatchObject: Bun writes its matchers into the object)
    expect(ack).toMatchObject({ type: "ack", status: "ok" });
    expect(id).toStartWith("dec_");

    const shown = await inbox.waitFor((f) => f.type === "decision" && f.decision?.id === id);
    expect(shown.decision).toMatchObject({ status: "pending", expires_at: expect.any(String) });
    const poll = agent.get(`/api/agent/decisions/${id}?wait=30`); // waiting when it expires

    const event = await a.waitFor("decision_resolved", 15_000);
    expect(event).toMatchObject({ event_id: expect.stringMatching(/^evt_/), decision_id: id, status: "expired", note: null, title: "Deploy now?" });
    expect((await poll).body).toMatchObject({ decision_id: id, status: "expired" });
    const resolved = await inbox.waitFor((f) => f.type === "decision_resolved" && f.decision?.id === id);
    expect(resolved.decision).toMatchObject({ status: "expired", resolved_by: null, resolved_at: expect.any(String) });

    const late = await person.post(`/api/decisions/${id}/respond`, { status: "approved" });
    expect(late.status).toBe(409);
    expect(late.body.detail).toContain("expired");
    expect((await agent.post("/api/agent/decisions/resolve", { decision_id: id })).status).toBe(409);
    expect((await agent.post(`/api/agent/decisions/${id}/cancel`)).status).toBe(409);
    expect((await person.get(`/api/decisions?status=resolved&agent_id=${created.id}`)).body.map((d: any) => d.id)).toContain(id);
    await Bun.sleep(300);
    expect(a.all((f) => f.type === "decision_resolved" && f.decision_id === id)).toHaveLength(1); // once only
    await a.close();
  });

  test("an answer before expires_at stands: the request never expires and the agent hears once", async () => {
    const a = await connectAgent(server, created);
    const id = await ask(agent, "question", { expires_in: 1 });
    expect((await person.post(`/api/decisions/${id}/respond`, { status: "responded", note: "blue" })).status).toBe(200);
    expect(await a.waitFor("decision_resolved")).toMatchObject({ decision_id: id, status: "responded", note: "blue" });
    await later(1500); // past expires_at
    expect((await agent.get(`/api/agent/decisions/${id}`)).body).toMatchObject({ status: "responded", note: "blue" });
    expect(a.all((f) => f.type === "decision_resolved" && f.decision_id === id)).toHaveLength(1);
    await a.close();
  });

  test("an agent that was offline gets the expiry on its next connection (replay)", async () => {
    const id = await ask(agent, "permission", { expires_in: 1 });
    await later(1000);
    expect((await settled(agent, id)).status).toBe("expired");
    const a = await connectAgent(server, created);
    expect(await a.waitFor((f) => f.type === "decision_resolved" && f.decision_id === id)).toMatchObject({ status: "expired" });
    await a.close();
  });

  test("expiry survives a restart: due while the server was down, or due after it came back", async () => {
    const early = await ask(agent, "approval", { title: "Due while down", expires_in: 1 });
    const later = await ask(agent, "approval", { title: "Due after restart", expires_in: 3 });
    const port = server.server.port;
    await server.stop();
    ahead += 1200; // past the first one's expires_at, with no server running
    server = await startTestServer({ port, now }, server.dataDir);
    expect((await settled(agent, early)).status).toBe("expired");
    expect((await settled(agent, later)).status).toBe("expired");
    const a = await connectAgent(server, created);
    const got = [await a.waitFor("decision_resolved", 10_000), await a.waitFor("decision_resolved", 10_000)];
    expect(got.map((f) => [f.decision_id, f.status]).sort()).toEqual([[early, "expired"], [later, "expired"]].sort());
    await a.close();
  });
});

describe("withdrawal", async () => {
  const server = await startTestServer();
  const { person, created, agent } = await withAgent(server, { name: "Withdrawer" });
  const other = await person.createAgent({ name: "Someone else" });
  const otherAgent = new AgentClient(server.url, other.id, other.secret);

  test("POST /api/agent/decisions/:id/cancel withdraws every kind; the inbox shows it, the agent hears nothing; twice is 409", async () => {
    const a = await connectAgent(server, created);
    const inbox = await connectInbox(server, person);
    const ids: string[] = [];
    for (const kind of Object.keys(KINDS) as (keyof typeof KINDS)[]) {
      const id = await ask(agent, kind);
      ids.push(id);
      const res = await agent.post(`/api/agent/decisions/${id}/cancel`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: "cancelled", decision_id: id });
      const frame = await inbox.waitFor((f) => f.type === "decision_resolved" && f.decision?.id === id);
      expect(frame.decision).toMatchObject({ kind, status: "cancelled", resolved_by: "agent" });
      expect((await person.get(`/api/decisions/${id}`)).body).toMatchObject({ status: "cancelled" });
      expect((await agent.get(`/api/agent/decisions/${id}`)).body).toMatchObject({ status: "cancelled" });

      const again = await agent.post(`/api/agent/decisions/${id}/cancel`);
      expect(again.status).toBe(409);
      expect(again.body.detail).toContain("cancelled");
      expect((await person.post(`/api/decisions/${id}/respond`, { status: kind === "approval" || kind === "permission" ? "approved" : "responded", note: "x" })).status).toBe(409);
    }
    await a.expectNone((f) => f.type === "decision_resolved" && ids.includes(f.decision_id), 300);
    await a.close();
  });

  test("a long-poll waiting on the request answers cancelled", async () => {
    const id = await ask(agent, "question");
    const poll = agent.get(`/api/agent/decisions/${id}?wait=30`);
    await Bun.sleep(100); // the poll is waiting (it answers correctly either way)
    expect((await agent.post(`/api/agent/decisions/${id}/cancel`)).status).toBe(200);
    expect((await poll).body).toMatchObject({ decision_id: id, status: "cancelled" });
  });

  test("another agent's request or an unknown id is 404; an answered one is 409", async () => {
    const id = await ask(agent, "approval");
    expect((await otherAgent.post(`/api/agent/decisions/${id}/cancel`)).status).toBe(404);
    expect((await agent.post(`/api/agent/decisions/dec_nope/cancel`)).status).toBe(404);
    expect((await person.get(`/api/decisions/${id}`)).body.status).toBe("pending");
    await person.post(`/api/decisions/${id}/respond`, { status: "rejected" });
    const res = await agent.post(`/api/agent/decisions/${id}/cancel`);
    expect(res.status).toBe(409);
    expect(res.body.detail).toContain("rejected");
  });

  test("the decision_cancel frame is acked like any other; errors keep the socket open", async () => {
    const a = await connectAgent(server, created);
    const inbox = await connectInbox(server, person);
    const ids: string[] = [];
    for (const kind of Object.keys(KINDS) as (keyof typeof KINDS)[]) {
      const id = await ask(agent, kind);
      ids.push(id);
      const ack = await a.request({ type: "decision_cancel", decision_id: id });
      expect(ack).toMatchObject({ type: "ack", status: "cancelled", decision_id: id });
      expect((await inbox.waitFor((f) => f.type === "decision_resolved" && f.decision?.id === id)).decision.status).toBe("cancelled");
      expect(await a.request({ type: "decision_cancel", decision_id: id })).toMatchObject({ type: "error", code: 409 });
    }
    const foreign = await ask(otherAgent, "approval");
    expect(await a.request({ type: "decision_cancel", decision_id: foreign })).toMatchObject({ type: "error", code: 404 });
    const missing = await a.request({ type: "decision_cancel" });
    expect(missing).toMatchObject({ type: "error", code: 400 });
    expect(missing.detail).toContain("decision_id");
    a.send({ type: "ping" });
    await a.waitFor("pong"); // the socket is still open
    await a.expectNone((f) => f.type === "decision_resolved" && ids.includes(f.decision_id), 300);
    await a.close();
  });

  test("REST /api/agent/events does not take decision_cancel (it is the cancel route there)", async () => {
    const res = await agent.event({ type: "decision_cancel", decision_id: "dec_x" });
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain("type");
  });
});

describe("in the inbox (browser)", async () => {
  const { launch, openPage, shot } = await import("./e2e-helpers.ts");
  let ahead = 0; // as in "expiry": the server's clock moves on instead of the test sleeping
  const server = await startTestServer({ now: () => Date.now() + ahead });
  const { agent } = await withAgent(server, { name: "Fickle" });
  const browser = await launch();
  const { page } = await openPage(browser);

  test("a pending card says when it expires; withdrawn and expired requests say so", async () => {
    await page.goto(server.url + "/app");
    await page.getByLabel("Username").fill("alice");
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Agents" }).waitFor();
    const withdrawn = await ask(agent, "approval", { title: "Restart the worker?" });
    await ask(agent, "question", { title: "Which port?", expires_in: 2 });
    await page.goto(server.url + "/app/requests");
    const a = page.getByRole("article", { name: "Request: Restart the worker?" });
    const q = page.getByRole("article", { name: "Request: Which port?" });
    await q.getByText("expires").waitFor();
    expect(await a.getByText("expires").count()).toBe(0);

    expect((await agent.post(`/api/agent/decisions/${withdrawn}/cancel`)).status).toBe(200);
    await a.getByText("Withdrawn by the agent").waitFor(); // live, without a reload
    expect(await a.getByRole("button", { name: "Approve" }).count()).toBe(0);
    ahead += 2000;
    await server.live.expiry.tick();
    await q.getByText("Expired", { exact: true }).waitFor({ timeout: 15_000 });
    expect(await q.getByLabel("Your answer").count()).toBe(0);
    await shot(page, "requests-withdrawn-expired");
  }, 60_000);
});
