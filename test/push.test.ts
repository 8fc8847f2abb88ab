// Web Push from nod, checked at a stand-in push service on loopback that
// verifies the VAPID JWT and decrypts each push with the subscribing
// browser's own key (test/push-service.ts): devices, what is pushed and when,
// answers replacing notifications, retries, removal and restart safety.
import { describe, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import { pushQueue } from "../server/db/tables.ts";
import { first } from "../server/db/rows.ts";
import { AgentClient, Person, eventually, owner, startTestServer, writeDb, type TestServer } from "./helpers.ts";
import { standInPushService, type StandIn } from "./push-service.ts";
import { createUser } from "../server/auth/service.ts";
import { plainText } from "../server/push/text.ts";
import { failStaleRuns } from "../server/tasks/run-timeout.ts";
import { serveConfig } from "../server/cli/serve.ts";
import { vapidSubject } from "../server/push/vapid.ts";
import type { Config } from "../server/config.ts";

async function person(server: TestServer, username: string) {
  await createUser(writeDb(server.ctx), username, "correct horse battery");
  const p = new Person(server.url);
  const res = await p.post("/api/auth/login", { username, password: "correct horse battery" });
  if (res.status !== 200) throw new Error(`login ${username}: ${res.status}`);
  return p;
}

async function setup(over: Parameters<typeof startTestServer>[0] = {}) {
  const server = await startTestServer({ pushRetryBaseMs: 20, ...over });
  const alice = await owner(server);
  const key = (await alice.get("/api/push/key")).body.public_key as string;
  const push = await standInPushService(() => key);
  const created = await alice.createAgent({ name: "Deploy Bot" });
  const agent = new AgentClient(server.url, created.id, created.secret);
  const subscribe = async (p: Person, name: string, svc: StandIn = push) => {
    const res = await p.post("/api/push/subscriptions", { ...svc.device(name), name });
    if (res.status !== 201) throw new Error(`subscribe: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.id as string;
  };
  const queued = async (tag: string) => (await server.ctx.db.select({ id: pushQueue.id }).from(pushQueue).where(eq(pushQueue.tag, tag))).length;
  return { server, alice, key, push, agent, agentId: created.id, subscribe, queued };
}

describe("devices", async () => {
  const { server, alice, key, push, subscribe } = await setup();
  const bob = await person(server, "bob");

  test("the VAPID public key is a 65-byte P-256 point, people only, and the same after a restart", async () => {
    const raw = Buffer.from(key, "base64url");
    expect(raw.length).toBe(65);
    expect(raw[0]).toBe(4);
    expect((await new Person(server.url).get("/api/push/key")).status).toBe(401);
    expect((await bob.get("/api/push/key")).body.public_key).toBe(key);
  });

  test("subscribe: 201 with a psub_ id and no keys; the same endpoint again updates it (200)", async () => {
    const dev = push.device("pixel");
    const res = await alice.post("/api/push/subscriptions", { ...dev, expirationTime: null, name: "Pixel 8" });
    expect(res.status).toBe(201);
    expect(res.body.id).toMatch(/^psub_/);
    expect(res.body.name).toBe("Pixel 8");
    expect(res.body.endpoint).toBe(dev.endpoint);
    expect(JSON.stringify(res.body)).not.toContain(dev.keys.auth);
    expect(JSON.stringify(res.body)).not.toContain(dev.keys.p256dh);
    const again = await alice.post("/api/push/subscriptions", dev);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(res.body.id);
    expect(again.body.name).toBe("Pixel 8");
  });

  test("/docs/json tells the push routes' success codes", async () => {
    const doc: any = (await alice.get("/docs/json")).body;
    for (const [method, path, code] of [["post", "/api/push/subscriptions", "200,201"], ["delete", "/api/push/subscriptions/{id}", "204"], ["post", "/api/push/test", "202"], ["get", "/api/push/key", "200"]] as const)
      expect(Object.keys(doc.paths[path]?.[method]?.responses ?? {}).filter((c) => c.startsWith("2")).join(), `${method} ${path}`).toEqual(code);
  });

  test("a device without a name is named after its browser", async () => {
    const res = await alice.call("POST", "/api/push/subscriptions", push.device("ua"), {
      "user-agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36",
    });
    expect(res.body.name).toBe("Chrome on Android");
  });

  test("bad subscriptions: 400 naming the field", async () => {
    const dev = push.device("bad");
    const notOnCurve = Buffer.from(dev.keys.p256dh, "base64url");
    notOnCurve[40]! ^= 1;
    const cases: [unknown, RegExp][] = [
      [{ ...dev, endpoint: "http://push.example.com/x" }, /^endpoint: .*https/],
      [{ ...dev, endpoint: "ftp://push.example.com/x" }, /^endpoint/],
      [{ ...dev, endpoint: "not a url" }, /^endpoint/],
      [{ ...dev, keys: { ...dev.keys, p256dh: notOnCurve.toString("base64url") } }, /^keys\.p256dh: not a valid P-256 point/],
      [{ ...dev, keys: { ...dev.keys, p256dh: Buffer.alloc(33, 2).toString("base64url") } }, /^keys\.p256dh/],
      [{ ...dev, keys: { ...dev.keys, p256dh: "!!!" } }, /^keys\.p256dh/],
      [{ ...dev, keys: { ...dev.keys, auth: Buffer.alloc(15).toString("base64url") } }, /^keys\.auth: must be 16 bytes/],
      [{ endpoint: dev.endpoint }, /^keys/],
      [{ keys: dev.keys }, /^endpoint/],
      [{ ...dev, name: "" }, /^name/],
    ];
    for (const [body, detail] of cases) {
      const res = await alice.post("/api/push/subscriptions", body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(res.body.detail).toMatch(detail);
    }
    // http is fine on loopback (the stand-in), https anywhere
    expect((await alice.post("/api/push/subscriptions", { ...dev, endpoint: "https://push.example.com/abc" })).status).toBe(201);
  });

  test("list, rename and remove; each person sees and touches only their own devices", async () => {
    const mine = await subscribe(alice, "laptop");
    const bobs = await subscribe(bob, "bob-phone");
    const aliceList = (await alice.get("/api/push/subscriptions")).body as any[];
    expect(aliceList.map((s) => s.id)).toContain(mine);
    expect(aliceList.map((s) => s.id)).not.toContain(bobs);
    expect(JSON.stringify(aliceList)).not.toContain('"keys"');
    expect(((await bob.get("/api/push/subscriptions")).body as any[]).map((s) => s.id)).toEqual([bobs]);

    expect((await alice.patch(`/api/push/subscriptions/${mine}`, { name: "Work laptop" })).body.name).toBe("Work laptop");
    expect((await alice.patch(`/api/push/subscriptions/${mine}`, { name: "" })).status).toBe(400);
    expect((await bob.patch(`/api/push/subscriptions/${mine}`, { name: "mine now" })).status).toBe(404);
    expect((await bob.delete(`/api/push/subscriptions/${mine}`)).status).toBe(404);
    expect((await alice.delete(`/api/push/subscriptions/${mine}`)).status).toBe(204);
    expect(((await alice.get("/api/push/subscriptions")).body as any[]).map((s) => s.id)).not.toContain(mine);
    expect((await new Person(server.url).get("/api/push/subscriptions")).status).toBe(401);
  });

  test("a test push reaches each of the person's own devices only", async () => {
    await subscribe(alice, "alice-tablet");
    await subscribe(bob, "bob-tablet");
    const res = await bob.post("/api/push/test");
    expect(res.status).toBe(202);
    const got = await push.until(() => push.shown("bob-tablet")[0]);
    expect(got).toMatchObject({ type: "test", title: "nod test notification", url: "/app/settings/notifications", tag: "nod-test" });
    expect(push.shown("bob-phone").map((p) => p.type)).toEqual(["test"]);
    await alice.post("/api/push/test");
    await push.until(() => push.shown("alice-tablet")[0]);
    expect(push.shown("bob-tablet").length).toBe(1);
    expect(push.errors).toEqual([]);
  });
});

describe("the first device", async () => {
  const { alice, push, agent, subscribe, queued } = await setup();

  test("messages and requests while no device is subscribed push nothing; once one is, the next ones reach it", async () => {
    const before = await agent.event({ type: "message", text: "nobody to tell" });
    expect(await queued(before.body.conversation_id)).toBe(0);
    const unseen = (await agent.event({ type: "decision", kind: "approval", title: "Unseen", description: "" })).body.decision_id;
    expect(await queued(unseen)).toBe(0);
    await subscribe(alice, "phone");
    const m = await agent.event({ type: "message", text: "now somebody" });
    await push.until((all) => all.find((x) => x.payload.message_id === m.body.message_id));
    const id = (await agent.event({ type: "decision", kind: "approval", title: "Seen", description: "" })).body.decision_id;
    await push.until((all) => all.find((x) => x.payload.decision_id === id));
    expect(push.received.map((x) => x.payload.body ?? x.payload.title)).not.toContain("nobody to tell");
    expect(push.errors).toEqual([]);
  });
});

describe("what is pushed", async () => {
  const { server, alice, push, agent, agentId, subscribe, queued } = await setup();
  const bob = await person(server, "bob");
  await subscribe(alice, "phone");
  await subscribe(bob, "bob");

  test("a new request reaches every person's devices: plain text, actions, Urgency high, a TTL", async () => {
    const r = await agent.event({ type: "decision", kind: "approval", title: "Deploy **v2**?", description: "Ships `v2.0` to [prod](https://x.example).\n\n- fast\n- safe" });
    const id = r.body.decision_id;
    const d = await push.until((all) => all.find((x) => x.device === "phone" && x.payload.decision_id === id));
    expect(d.payload).toMatchObject({
      type: "request",
      title: "Deploy Bot: Deploy v2?",
      body: "Ships v2.0 to prod.\n\n• fast\n• safe",
      url: `/app/requests/${id}`,
      tag: id,
      decision_id: id,
      actions: [
        { action: "approve", title: "Approve" },
        { action: "reject", title: "Reject" },
      ],
      badge: 1,
    });
    expect(d.urgency).toBe("high");
    expect(d.ttl).toBeGreaterThan(0);
    expect(d.claims.aud).toBe(push.origin);
    await push.until((all) => all.find((x) => x.device === "bob" && x.payload.decision_id === id));
  });

  test("actions per kind: permission Allow/Deny, a choice of two its options, otherwise none; task proposals too", async () => {
    const kinds: [Record<string, unknown>, string[]][] = [
      [{ type: "decision", kind: "permission", title: "Run rm -rf build/?", description: "Bash" }, ["Allow", "Deny"]],
      [{ type: "decision", kind: "choice", title: "Which?", description: "", options: ["Blue", "Green"] }, ["Blue", "Green"]],
      [{ type: "decision", kind: "choice", title: "Which of three?", description: "", options: ["A", "B", "C"] }, []],
      [{ type: "decision", kind: "question", title: "Why?", description: "" }, []],
      [{ type: "task_proposal", title: "Nightly backup", task_name: "Backup", task_prompt: "Back up", task_schedule: "0 3 * * *" }, ["Approve", "Reject"]],
    ];
    for (const [event, titles] of kinds) {
      const id = (await agent.event(event)).body.decision_id;
      const d = await push.until((all) => all.find((x) => x.device === "phone" && x.payload.decision_id === id));
      expect({ event, titles: d.payload.actions.map((a: any) => a.title) }).toEqual({ event, titles });
      if (event.type === "task_proposal") expect(d.payload.body).toBe("Task proposal: Backup (0 3 * * *)");
    }
  });

  test("answering replaces the notification on every device that was told: same tag, resolved, the outcome", async () => {
    const id = (await agent.event({ type: "decision", kind: "approval", title: "Restart the db?", description: "" })).body.decision_id;
    await push.until((all) => all.filter((x) => x.payload.decision_id === id).length === 2);
    const late = await subscribe(alice, "late"); // subscribed after the request: never told of it
    expect((await bob.post(`/api/decisions/${id}/respond`, { status: "approved" })).status).toBe(200);
    const resolved = await push.until((all) => {
      const r = all.filter((x) => x.payload.decision_id === id && x.payload.resolved);
      return r.length === 2 ? r : null;
    });
    for (const r of resolved) expect(r.payload).toMatchObject({ type: "resolved", tag: id, resolved: true, status: "approved", body: "Approved by bob", title: "Deploy Bot: Restart the db?" });
    expect(resolved.map((r) => r.device).sort()).toEqual(["bob", "phone"]);
    expect(push.shown("late")).toEqual([]);
    expect(late).toMatch(/^psub_/);
    // The agent resolving its own request replaces it too.
    const q2 = (await agent.event({ type: "decision", kind: "question", title: "Name?", description: "" })).body.decision_id;
    await push.until((all) => all.filter((x) => x.payload.decision_id === q2).length === 3);
    expect((await agent.post("/api/agent/decisions/resolve", { decision_id: q2, note: "never mind" })).status).toBe(200);
    const self = await push.until((all) => all.find((x) => x.device === "phone" && x.payload.decision_id === q2 && x.payload.resolved));
    expect(self.payload.body).toBe("Answered by the agent: never mind");
  });

  test("agent messages are pushed by default, per conversation, and follow each person's settings and mutes", async () => {
    const m = await agent.event({ type: "message", text: "Build **done**: see [log](https://ci.example/1)" });
    const conv = m.body.conversation_id;
    const d = await push.until((all) => all.find((x) => x.device === "bob" && x.payload.message_id === m.body.message_id));
    expect(d.payload).toMatchObject({ type: "message", title: "Deploy Bot", body: "Build done: see log", tag: conv, url: `/app/agents/${agentId}/chat?conversation=${conv}` });
    expect(d.urgency).toBe("normal");

    expect((await bob.get("/api/push/settings")).body).toEqual({ messages: true, failed_runs: true, muted_agents: [] });
    expect((await bob.call("PUT", "/api/push/settings", { messages: false })).body).toEqual({ messages: false, failed_runs: true, muted_agents: [] });
    expect((await alice.call("PUT", "/api/push/settings", { muted_agents: [agentId] })).body.muted_agents).toEqual([agentId]);
    expect((await alice.call("PUT", "/api/push/settings", { messages: "yes" })).status).toBe(400);
    const other = await alice.createAgent({ name: "Other Bot" });
    const otherAgent = new AgentClient(server.url, other.id, other.secret);

    const muted = await agent.event({ type: "message", text: "nobody wants this" });
    expect(await queued(muted.body.conversation_id)).toBe(0); // the queue row is written with the message, or never
    const heard = await otherAgent.event({ type: "message", text: "alice hears this" });
    await push.until((all) => all.filter((x) => x.payload.message_id === heard.body.message_id).length === 2);
    expect(push.received.some((x) => x.payload.message_id === muted.body.message_id)).toBe(false);
    expect(push.received.filter((x) => x.payload.message_id === heard.body.message_id).map((x) => x.device).sort()).toEqual(["late", "phone"]); // alice's devices, not bob's
    // Requests are always pushed, muted or not.
    const id = (await agent.event({ type: "decision", kind: "approval", title: "Still asked", description: "" })).body.decision_id;
    await push.until((all) => all.filter((x) => x.payload.decision_id === id).length === 3);
    await alice.call("PUT", "/api/push/settings", { muted_agents: [] });
    await bob.call("PUT", "/api/push/settings", { messages: true });
  });

  test("a failed task run is pushed; a completed one is not; failed_runs off stops it", async () => {
    const task = (await agent.post("/api/agent/tasks", { name: "Nightly **sync**", prompt: "sync", schedule: "event" })).body;
    const ok = (await agent.post(`/api/agent/tasks/${task.id}/run/start`)).body.run_id;
    await agent.post(`/api/agent/tasks/runs/${ok}/complete`, { status: "completed", summary: "all good" });
    expect(await queued(task.id)).toBe(0);
    const bad = (await agent.post(`/api/agent/tasks/${task.id}/run/start`)).body.run_id;
    await alice.call("PUT", "/api/push/settings", { failed_runs: false });
    await agent.post(`/api/agent/tasks/runs/${bad}/complete`, { status: "failed", summary: "**disk full**" });
    const d = await push.until((all) => all.find((x) => x.payload.run_id === bad));
    expect(d.payload).toMatchObject({ type: "run_failed", title: "Task failed: Nightly sync", body: "Deploy Bot · disk full", url: `/app/tasks/${task.id}`, tag: task.id });
    expect(push.received.filter((x) => x.payload.run_id === bad).map((x) => x.device)).toEqual(["bob"]);
    await alice.call("PUT", "/api/push/settings", { failed_runs: true });
  });

  test("a run that times out is a failed run too", async () => {
    const task = (await agent.post("/api/agent/tasks", { name: "Slow job", prompt: "wait", schedule: "event" })).body;
    const run = (await agent.post(`/api/agent/tasks/${task.id}/run/start`)).body.run_id;
    expect(await failStaleRuns(server.ctx, Date.now() + server.ctx.config.runTimeoutMs + 60_000)).toBeGreaterThan(0);
    const d = await push.until((all) => all.find((x) => x.payload.run_id === run));
    expect(d.payload).toMatchObject({ type: "run_failed", title: "Task failed: Slow job", tag: task.id });
    expect(d.payload.body).toMatch(/^Deploy Bot · Timed out/);
  });

  test("markdown becomes plain text", () => {
    expect(plainText("# Title\n\n**bold** _it_ snake_case_name `code` ~~gone~~ > no\n\n```js\nx = 1\n```\n| a | b |\n|---|---|\n| 1 | 2 |")).toBe(
      "Title\n\nbold it snake_case_name code gone > no\n\nx = 1\n\na · b\n1 · 2",
    );
  });

  test("a huge message of unclosed markers still becomes a short notification", async () => {
    const text = "**a [b]( `c ".repeat(60_000); // 720 KB
    expect(plainText(text).length).toBeLessThanOrEqual(2000);
    const m = await agent.event({ type: "message", text: "**a ".repeat(20_000) });
    const d = await push.until((all) => all.find((x) => x.payload.message_id === m.body.message_id));
    expect([...d.payload.body].length).toBeLessThanOrEqual(300);
  });

  test("every push verified and decrypted", () => expect(push.errors).toEqual([]));
});

describe("delivery", async () => {
  const { server, alice, push, agent, subscribe } = await setup({ pushRetryBaseMs: 20 });

  test("404 and 410 from the push service remove the subscription", async () => {
    const gone404 = await subscribe(alice, "gone404");
    const gone410 = await subscribe(alice, "gone410");
    push.always("gone404", 404);
    push.always("gone410", 410);
    await alice.post("/api/push/test");
    await eventually(async () => {
      const ids = ((await alice.get("/api/push/subscriptions")).body as any[]).map((s) => s.id);
      return !ids.includes(gone404) && !ids.includes(gone410);
    }, 4500, "gone subscriptions removed");
    await alice.post("/api/push/test"); // nothing more goes to them
    expect(push.received.filter((d) => d.device.startsWith("gone")).map((d) => d.status).sort()).toEqual([404, 410]);
  });

  test("500 and 429 are retried with backoff until the push goes through", async () => {
    const id = await subscribe(alice, "flaky");
    push.script("flaky", 500, 429, 503);
    const dec = (await agent.event({ type: "decision", kind: "approval", title: "Retry me", description: "" })).body.decision_id;
    const row = await eventually(
      async () =>
        first(
          await server.ctx.db
            .select({ status: pushQueue.status, attempts: pushQueue.attempts, lastError: pushQueue.lastError })
            .from(pushQueue)
            .where(and(eq(pushQueue.subscriptionId, id), eq(pushQueue.status, "sent"))),
        ),
      4500,
      "the push sent after three failures",
    );
    expect(row).toEqual({ status: "sent", attempts: 4, lastError: null }); // kept: its answer goes to this device later
    expect(push.received.filter((d) => d.device === "flaky" && d.payload.decision_id === dec).map((d) => d.status)).toEqual([500, 429, 503, 201]);
    const sub = ((await alice.get("/api/push/subscriptions")).body as any[]).find((s) => s.id === id);
    expect(sub.last_error).toBeNull();
    expect(sub.last_success_at).toBeTruthy();
  });

  test("another 4xx is given up at once and shown on the device", async () => {
    const id = await subscribe(alice, "refuses");
    push.always("refuses", 413);
    await alice.post("/api/push/test");
    const sub = await eventually(async () => ((await alice.get("/api/push/subscriptions")).body as any[]).find((s) => s.id === id && s.last_error), 4500);
    expect(sub.last_error).toMatch(/^http_413/);
    expect(push.received.filter((d) => d.device === "refuses").length).toBe(1);
  });

  test("every push verified and decrypted", () => expect(push.errors).toEqual([]));
});

describe("a hung push service holds up nobody else", async () => {
  // Two pushes in flight at most, one per push service; a long timeout so the hang lasts the whole test.
  const { server, alice, key, push: slow, agent, subscribe } = await setup({ pushMaxInFlight: 2, pushMaxPerOrigin: 1, pushTimeoutMs: 60_000 });
  const fast = await standInPushService(() => key);
  for (const n of ["s1", "s2", "s3"]) {
    await subscribe(alice, n, slow);
    slow.always(n, "hang");
  }
  await subscribe(alice, "f1", fast);

  test("the other push service gets every push while the first one hangs", async () => {
    for (let i = 0; i < 3; i++) {
      const id = (await agent.event({ type: "decision", kind: "approval", title: `Q${i}`, description: "" })).body.decision_id;
      await fast.until(() => fast.shown("f1").some((p) => p.decision_id === id), `push ${i} at the fast service`);
    }
    expect(slow.received.length).toBe(1); // one in flight there, hanging; the rest wait their turn
    expect((await server.ctx.db.select({ id: pushQueue.id }).from(pushQueue).where(eq(pushQueue.status, "pending"))).length).toBeGreaterThan(1);
  });
});

describe("timeouts", async () => {
  const { alice, push, subscribe } = await setup({ pushTimeoutMs: 200, pushRetryBaseMs: 60_000 });

  test("a push service that does not answer in time: the attempt fails and is retried later", async () => {
    const id = await subscribe(alice, "silent");
    push.always("silent", "hang");
    await alice.post("/api/push/test");
    const sub = await eventually(async () => ((await alice.get("/api/push/subscriptions")).body as any[]).find((s) => s.id === id && s.last_error), 4500);
    expect(sub.last_error).toMatch(/^timeout/);
  });
});

describe("restart safety", async () => {
  const { server: first, alice, push, agent, subscribe } = await setup();
  let server: TestServer = first;

  test("a push interrupted by a stop, or queued while stopped, is sent after the restart", async () => {
    await subscribe(alice, "phone");
    push.script("phone", "hang");
    const id = (await agent.event({ type: "decision", kind: "approval", title: "Survive a restart", description: "" })).body.decision_id;
    await push.until(() => push.received.find((d) => d.payload.decision_id === id && d.status === -1), "the hanging attempt");
    server = await server.restart();
    const d = await push.until(() => push.received.find((x) => x.payload.decision_id === id && x.status === 201), "the push after the restart");
    expect(d.payload.title).toBe("Deploy Bot: Survive a restart");

    // A push queued while no sender runs is sent when the server starts again.
    // (One test: a server started inside a test is stopped when that test ends.)
    await server.live.push.stop(); // the queue row is written with the request; nobody sends it
    const id2 = (await agent.event({ type: "decision", kind: "approval", title: "Queued while stopped", description: "" })).body.decision_id;
    const [row] = await server.ctx.db.select({ status: pushQueue.status }).from(pushQueue).where(eq(pushQueue.tag, id2));
    expect(row).toEqual({ status: "pending" });
    expect(push.received.some((d) => d.payload.decision_id === id2)).toBe(false);
    server = await server.restart();
    const d2 = await push.until(() => push.received.find((x) => x.payload.decision_id === id2 && x.status === 201), "the queued push after the restart");
    expect(d2.payload.title).toBe("Deploy Bot: Queued while stopped");
    expect(push.errors).toEqual([]);
  });
});

describe("the VAPID subject", () => {
  test("--push-contact wins; else an https public URL; else a mailto: address; a bad contact is a usage error", () => {
    const cfg = (args: string[]) => serveConfig(["--data", "/tmp/x", ...args]) as Config;
    expect(vapidSubject(cfg(["--push-contact", "mailto:ops@example.com", "--public-url", "https://nod.example.com"]))).toBe("mailto:ops@example.com");
    expect(vapidSubject(cfg(["--public-url", "https://nod.example.com/"]))).toBe("https://nod.example.com");
    expect(vapidSubject(cfg(["--public-url", "http://nod.lan:8000"]))).toBe("mailto:nod@nod.lan");
    expect(vapidSubject(cfg([]))).toMatch(/^mailto:/);
    expect(() => serveConfig(["--push-contact", "ops@example.com"])).toThrow(/--push-contact/);
  });
});

describe("--webhook-block-private keeps push endpoints public too", async () => {
  const { server, alice, push, agent, subscribe } = await setup();

  test("a device on a private address is refused (400 naming endpoint); one added before the flag gets no push, and shows why", async () => {
    const home = await subscribe(alice, "home"); // on loopback, added while private addresses were allowed
    const blocking = await server.restart({ webhookBlockPrivate: true });
    const res = await alice.post("/api/push/subscriptions", { ...push.device("other"), name: "other" });
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/^endpoint: .*non-public address 127\.0\.0\.1/);
    await agent.event({ type: "decision", kind: "approval", title: "Not to a private address", description: "" });
    const device = await eventually(async () => ((await alice.get("/api/push/subscriptions")).body as any[]).find((s) => s.id === home && s.last_error), 10_000, "the refused push");
    expect(device.last_error).toContain("non-public address 127.0.0.1");
    expect(push.received.filter((d) => d.device === "home")).toEqual([]);
    expect(await blocking.ctx.db.select({ id: pushQueue.id }).from(pushQueue).where(eq(pushQueue.subscriptionId, home))).toEqual([]);
  });
});

describe("deleting an agent", async () => {
  const { alice, push, agent, agentId, subscribe } = await setup();

  test("the devices told of its pending requests hear they are gone: same tag, resolved, the badge without them", async () => {
    await subscribe(alice, "phone");
    const other = await alice.createAgent({ name: "Other Bot" });
    await new AgentClient(alice.base, other.id, other.secret).event({ type: "decision", kind: "approval", title: "Still pending", description: "" });
    const id = (await agent.event({ type: "decision", kind: "approval", title: "Restart the db?", description: "" })).body.decision_id as string;
    await push.until((all) => all.find((x) => x.payload.decision_id === id && !x.payload.resolved), "the request's push");
    expect((await alice.delete(`/api/agents/${agentId}`)).status).toBe(204);
    const gone = await push.until((all) => all.find((x) => x.payload.decision_id === id && x.payload.resolved), "the push saying it is gone");
    expect(gone.payload).toMatchObject({ type: "resolved", tag: id, resolved: true, title: "Deploy Bot: Restart the db?", body: "Its agent was deleted", badge: 1 });
    expect((await alice.get(`/api/decisions/${id}`)).status).toBe(404);
  });
});
