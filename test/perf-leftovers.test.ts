// The performance issue's leftovers: retention of expired sessions and old
// push markers, unread counts kept right when --keep-messages prunes unread
// messages, and GET /api/agents paged by default (the inbox follows ?before).
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { AgentClient, eventually, owner, Person, startTestServer, writeDb } from "./helpers.ts";
import { standInPushService } from "./push-service.ts";
import { PRUNE_BATCH, PUSH_MARKERS_KEPT_MS, pruneBatch } from "../server/ops/retention.ts";
import { sha256hex } from "../server/lib/secrets.ts";
import { isoMs } from "../server/lib/time.ts";

setDefaultTimeout(60_000); // servers and pushes on a busy machine (a hang guard, not a time check)

const DAY = 86_400_000;

describe("retention: expired sessions", async () => {
  let clock = Date.now();
  const server = await startTestServer({ now: () => clock });
  const alice = await owner(server);
  const sqlite = writeDb(server.ctx).$client; // inserts rows: the writer's connection
  const sessions = () => sqlite.query<{ n: number }, []>("SELECT count(*) AS n FROM sessions").get()!.n;
  const userId = sqlite.query<{ id: string }, []>("SELECT id FROM users").get()!.id;

  test("sessions past their expiry go, in batches; a live one stays and still signs its person in", async () => {
    const expired = PRUNE_BATCH * 2 + 50;
    const insert = sqlite.prepare("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)");
    sqlite.transaction(() => {
      for (let i = 0; i < expired; i++) insert.run(sha256hex(`old ${i}`), userId, isoMs(clock - 40 * DAY), isoMs(clock - 10 * DAY - i));
    })();
    expect(sessions()).toBe(expired + 1);

    expect((await pruneBatch(server.ctx, "sessions", clock)).n).toBe(PRUNE_BATCH); // one batch takes at most PRUNE_BATCH
    expect((await server.live.retention.run()).sessions).toBe(expired - PRUNE_BATCH);
    expect(sessions()).toBe(1);
    expect((await alice.get("/api/agents")).status).toBe(200);
  });

  test("a month on, the person's own session has expired: refused, then deleted; signing in again works", async () => {
    clock += 31 * DAY;
    expect((await alice.get("/api/agents")).status).toBe(401);
    expect((await server.live.retention.run()).sessions).toBe(1);
    expect(sessions()).toBe(0);
    const again = new Person(server.url);
    expect((await again.post("/api/auth/login", { username: "alice", password: "correct horse battery" })).status).toBe(200);
    expect((await again.get("/api/agents")).status).toBe(200);
    // counted by the passes: the first test's (after its lone batch) and this one
    expect(server.ctx.metrics.render()).toMatch(new RegExp(`^nod_pruned_rows_total\\{table="sessions"\\} ${PRUNE_BATCH + 50 + 1}$`, "m"));
  });
});

describe("retention: a request's push marker", async () => {
  let clock = Date.now();
  const server = await startTestServer({ now: () => clock, pushRetryBaseMs: 20 });
  const alice = await owner(server);
  const push = await standInPushService(async () => (await alice.get("/api/push/key")).body.public_key);
  const created = await alice.createAgent({ name: "Deploy Bot" });
  const agent = new AgentClient(server.url, created.id, created.secret);
  expect((await alice.post("/api/push/subscriptions", { ...push.device("phone"), name: "Phone" })).status).toBe(201);
  const sqlite = writeDb(server.ctx).$client; // inserts rows: the writer's connection
  const marker = (tag: string) => sqlite.query<{ status: string; at: string }, [string]>("SELECT status, next_attempt_at AS at FROM push_queue WHERE tag = ?").get(tag);

  test("is dated when it was sent; past PUSH_MARKERS_KEPT_MS it goes, and that request's answer is no longer pushed", async () => {
    const ask = async (title: string) => {
      const id = (await agent.event({ type: "decision", kind: "approval", title, description: "" })).body.decision_id as string;
      await push.until((r) => r.some((d) => d.payload.decision_id === id), `the push for ${title}`);
      await eventually(() => marker(id)?.status === "sent", undefined, `${title}'s marker`);
      return id;
    };
    const oldId = await ask("Old request");
    const youngId = await ask("Young request");
    expect(Date.parse(marker(youngId)!.at)).toBeLessThanOrEqual(Date.now()); // the time it was sent, not its attempt's lease
    // The old one was sent a month and a day ago.
    sqlite.run("UPDATE push_queue SET next_attempt_at = ? WHERE tag = ?", [isoMs(clock - PUSH_MARKERS_KEPT_MS - DAY), oldId]);

    expect((await server.live.retention.run()).push_queue).toBe(1);
    expect(marker(oldId)).toBeNull();
    expect(marker(youngId)?.status).toBe("sent");

    for (const id of [oldId, youngId]) expect((await alice.post(`/api/decisions/${id}/respond`, { status: "approved" })).status).toBe(200);
    await push.until((r) => r.some((d) => d.payload.decision_id === youngId && d.payload.resolved), "the young request's answer");
    expect(push.received.filter((d) => d.payload.resolved).map((d) => d.payload.decision_id)).toEqual([youngId]);
  });

  test("many old markers: at most PRUNE_BATCH per batch, all of them in one pass", async () => {
    const sub = sqlite.query<{ id: string }, []>("SELECT id FROM push_subscriptions").get()!.id;
    const insert = sqlite.prepare(
      "INSERT INTO push_queue (subscription_id, origin, tag, kind, payload, urgency, ttl, status, next_attempt_at, created_at) VALUES (?, ?, ?, 'request', '{}', 'high', 60, 'sent', ?, ?)",
    );
    const n = PRUNE_BATCH + 70;
    const at = isoMs(clock - PUSH_MARKERS_KEPT_MS - DAY);
    sqlite.transaction(() => {
      for (let i = 0; i < n; i++) insert.run(sub, push.origin, `dec_old_${i}`, at, at);
    })();
    expect((await pruneBatch(server.ctx, "push_queue", clock - PUSH_MARKERS_KEPT_MS)).n).toBe(PRUNE_BATCH);
    expect((await server.live.retention.run()).push_queue).toBe(n - PRUNE_BATCH);
    expect(sqlite.query<{ n: number }, []>("SELECT count(*) AS n FROM push_queue WHERE status = 'sent' AND tag LIKE 'dec_old_%'").get()!.n).toBe(0);
  });
});

describe("--keep-messages and unread counts", async () => {
  let shift = 29 * DAY; // the person signs in "now"; the messages' own times (in their ids) are the real ones
  let frozen: number | null = null; // a clock that stands still: "exactly 30 days old" must not age while the test runs
  const server = await startTestServer({ now: () => frozen ?? Date.now() + shift, keepMessagesMs: 30 * DAY });
  const alice = await owner(server);
  const made = async (name: string) => {
    const c = await alice.createAgent({ name });
    return { id: c.id, agent: new AgentClient(server.url, c.id, c.secret) };
  };
  const busy = await made("Busy");
  const quiet = await made("Quiet");
  const unread = async () => {
    const list = (await alice.get("/api/agents")).body as { id: string; unread_messages: number }[];
    return Object.fromEntries(list.map((a) => [a.id === busy.id ? "busy" : "quiet", a.unread_messages]));
  };
  const say = async (who: typeof busy, text: string) => (await who.agent.event({ type: "message", text })).body as { message_id: string; conversation_id: string };
  const ms = (messageId: string) => Number.parseInt(messageId.slice(4, 16), 16);

  test("pruning old messages lowers the unread count by the unread ones among them, in the same transaction", async () => {
    const first = await say(busy, "read one");
    await say(busy, "read two");
    expect((await alice.post(`/api/conversations/${first.conversation_id}/read`)).status).toBe(204);
    await say(busy, "unread, old");
    await say(busy, "unread, old too");
    expect((await alice.post(`/api/agents/${busy.id}/messages`, { text: "a person's reply" })).status).toBe(201);
    for (const t of ["never read 1", "never read 2", "never read 3"]) await say(quiet, t);
    await Bun.sleep(5); // the next message is a millisecond younger than all of these
    const young = await say(busy, "unread, young");
    expect(await unread()).toEqual({ busy: 3, quiet: 3 });

    frozen = ms(young.message_id) + 30 * DAY; // `young` is exactly 30 days old, the others older
    const pruned = await server.live.retention.run();
    frozen = null;
    shift = ms(young.message_id) + 30 * DAY - Date.now();
    expect(pruned.messages).toBe(8);
    expect(await unread()).toEqual({ busy: 1, quiet: 0 });
    const left = (await alice.get(`/api/conversations/${first.conversation_id}/messages`)).body as { text: string }[];
    expect(left.map((m) => m.text)).toEqual(["unread, young"]);
  });

  test("afterwards the counts go on as usual: new messages count, reading zeroes", async () => {
    await say(quiet, "new");
    await say(busy, "new too");
    expect(await unread()).toEqual({ busy: 2, quiet: 1 });
    const conv = (await alice.get(`/api/agents/${busy.id}/conversations`)).body[0].id as string;
    expect((await alice.post(`/api/conversations/${conv}/read`)).status).toBe(204);
    expect(await unread()).toEqual({ busy: 0, quiet: 1 });
  });

  test("a batch that ends among a conversation's unread messages takes only those it deletes off the count", async () => {
    const sqlite = writeDb(server.ctx).$client; // inserts rows: the writer's connection
    const sent: string[] = [];
    for (let i = 0; i < 6; i++) sent.push((await say(busy, `batch ${i}`)).message_id);
    expect((await unread()).busy).toBe(6);
    shift = ms(sent[5]!) + 30 * DAY + 1 - Date.now(); // all six are older than 30 days now
    // One batch that ends after the third of them (batches go in id order over every conversation).
    const older = sqlite.query<{ n: number }, [string]>("SELECT count(*) AS n FROM messages WHERE id < ?").get(sent[0]!)!.n;
    expect((await pruneBatch(server.ctx, "messages", Date.now() + shift - 30 * DAY, older + 3)).n).toBe(older + 3);
    expect((await unread()).busy).toBe(3);
    await server.live.retention.run();
    expect((await unread()).busy).toBe(0);
  });
});

describe("GET /api/agents is paged by default; the inbox follows ?before", async () => {
  const server = await startTestServer();
  const alice = await owner(server);
  const { createAgent } = await import("../server/agents/service.ts");
  const made = (await Promise.all(Array.from({ length: 450 }, (_, i) => createAgent(server.ctx, { name: `Agent ${i}` }, null)))).map((c) => c.agent.id);
  const ids = async (q: string) => ((await alice.get(`/api/agents${q}`)).body as { id: string }[]).map((a) => a.id);

  test("without ?limit: the 50 created last (API.md's default page), oldest first; ?before= pages back to the very first", async () => {
    const first = await ids("");
    expect(first).toEqual(made.slice(-50));
    const seen = [...first];
    for (let page = first; page.length === 50; ) {
      page = await ids(`?before=${page[0]}`);
      seen.unshift(...page);
    }
    expect(seen).toEqual(made);
    expect((await ids("?limit=200")).length).toBe(200); // the most one page holds
  });

  test("the inbox's loadAgents (web/store.js) reads every page: all 450 agents, in creation order, with their counts", async () => {
    const asked: string[] = [];
    const realFetch = globalThis.fetch;
    globalThis.fetch = ((path: string, init: RequestInit = {}) => {
      asked.push(path);
      return realFetch(new URL(path, server.url), { ...init, headers: { ...(init.headers as Record<string, string>), cookie: alice.cookie } });
    }) as typeof fetch;
    try {
      const store = await import("../web/store.js");
      await store.loadAgents();
      expect(store.state.agentsLoaded).toBe(true);
      expect(store.state.agents.map((a: { id: string }) => a.id)).toEqual(made);
      expect(store.state.agents[0]).toMatchObject({ name: "Agent 0", pending_requests: 0, unread_messages: 0 });
      expect(asked).toEqual([
        `/api/agents?limit=${store.AGENTS_PAGE}`,
        `/api/agents?limit=${store.AGENTS_PAGE}&before=${made[250]}`,
        `/api/agents?limit=${store.AGENTS_PAGE}&before=${made[50]}`,
      ]);
    } finally {
      globalThis.fetch = realFetch;
    }
  });
});
