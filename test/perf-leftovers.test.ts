// The performance issue's leftovers: retention of expired sessions and old
// push markers, unread counts kept right when --keep-messages prunes unread
// messages, and GET /api/agents paged by default (the inbox follows ?before).
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { AgentClient, eventually, owner, Person, startTestServer, writeDb } from "./helpers.ts";
import { standInPushService } from "./push-service.ts";
import { PRUNE_BATCH, PUSH_MARKERS_KEPT_MS, pruneBatch } from "../server/ops/retention.ts";
import { sha256hex } from "../server/lib/secrets.ts";
import { isoMs } from "../server/lib/time.ts";
import { and, eq, like, lt } from "drizzle-orm";
import { messages, pushQueue, pushSubscriptions, sessions, users } from "../server/db/tables.ts";
import { first } from "../server/db/rows.ts";

setDefaultTimeout(60_000); // servers and pushes on a busy machine (a hang guard, not a time check)

const DAY = 86_400_000;

describe("retention: expired sessions", async () => {
  let clock = Date.now();
  const server = await startTestServer({ now: () => clock });
  const alice = await owner(server);
  const db = writeDb(server.ctx); // inserts rows: the writer's connection
  const sessionCount = () => server.ctx.db.$count(sessions);
  const userId = first(await server.ctx.db.select({ id: users.id }).from(users))!.id;

  test("sessions past their expiry go, in batches; a live one stays and still signs its person in", async () => {
    const expired = PRUNE_BATCH * 2 + 50;
    await db.insert(sessions).values(
      Array.from({ length: expired }, (_, i) => ({ tokenHash: sha256hex(`old ${i}`), userId, createdAt: isoMs(clock - 40 * DAY), expiresAt: isoMs(clock - 10 * DAY - i) })),
    );
    expect(await sessionCount()).toBe(expired + 1);

    expect((await pruneBatch(server.ctx, "sessions", clock)).n).toBe(PRUNE_BATCH); // one batch takes at most PRUNE_BATCH
    expect((await server.live.retention.run()).sessions).toBe(expired - PRUNE_BATCH);
    expect(await sessionCount()).toBe(1);
    expect((await alice.get("/api/agents")).status).toBe(200);
  });

  test("a month on, the person's own session has expired: refused, then deleted; signing in again works", async () => {
    clock += 31 * DAY;
    expect((await alice.get("/api/agents")).status).toBe(401);
    expect((await server.live.retention.run()).sessions).toBe(1);
    expect(await sessionCount()).toBe(0);
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
  const db = writeDb(server.ctx); // inserts rows: the writer's connection
  const marker = async (tag: string) =>
    first(await server.ctx.db.select({ status: pushQueue.status, at: pushQueue.nextAttemptAt }).from(pushQueue).where(eq(pushQueue.tag, tag))) ?? null;

  test("is dated when it was sent; past PUSH_MARKERS_KEPT_MS it goes, and that request's answer is no longer pushed", async () => {
    const ask = async (title: string) => {
      const id = (await agent.event({ type: "decision", kind: "approval", title, description: "" })).body.decision_id as string;
      await push.until((r) => r.some((d) => d.payload.decision_id === id), `the push for ${title}`);
      await eventually(async () => (await marker(id))?.status === "sent", undefined, `${title}'s marker`);
      return id;
    };
    const oldId = await ask("Old request");
    const youngId = await ask("Young request");
    expect(Date.parse((await marker(youngId))!.at)).toBeLessThanOrEqual(Date.now()); // the time it was sent, not its attempt's lease
    // The old one was sent a month and a day ago.
    await db.update(pushQueue).set({ nextAttemptAt: isoMs(clock - PUSH_MARKERS_KEPT_MS - DAY) }).where(eq(pushQueue.tag, oldId));

    expect((await server.live.retention.run()).push_queue).toBe(1);
    expect(await marker(oldId)).toBeNull();
    expect((await marker(youngId))?.status).toBe("sent");

    for (const id of [oldId, youngId]) expect((await alice.post(`/api/decisions/${id}/respond`, { status: "approved" })).status).toBe(200);
    await push.until((r) => r.some((d) => d.payload.decision_id === youngId && d.payload.resolved), "the young request's answer");
    expect(push.received.filter((d) => d.payload.resolved).map((d) => d.payload.decision_id)).toEqual([youngId]);
  });

  test("many old markers: at most PRUNE_BATCH per batch, all of them in one pass", async () => {
    const sub = first(await server.ctx.db.select({ id: pushSubscriptions.id }).from(pushSubscriptions))!.id;
    const n = PRUNE_BATCH + 70;
    const at = isoMs(clock - PUSH_MARKERS_KEPT_MS - DAY);
    const old = (i: number) => ({ subscriptionId: sub, origin: push.origin, tag: `dec_old_${i}`, kind: "request", payload: "{}", urgency: "high", ttl: 60, status: "sent", nextAttemptAt: at, createdAt: at }) as const;
    await db.insert(pushQueue).values(Array.from({ length: n }, (_, i) => old(i)));
    expect((await pruneBatch(server.ctx, "push_queue", clock - PUSH_MARKERS_KEPT_MS)).n).toBe(PRUNE_BATCH);
    expect((await server.live.retention.run()).push_queue).toBe(n - PRUNE_BATCH);
    expect(await server.ctx.db.$count(pushQueue, and(eq(pushQueue.status, "sent"), like(pushQueue.tag, "dec_old_%")))).toBe(0);
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
    const sent: string[] = [];
    for (let i = 0; i < 6; i++) sent.push((await say(busy, `batch ${i}`)).message_id);
    expect((await unread()).busy).toBe(6);
    shift = ms(sent[5]!) + 30 * DAY + 1 - Date.now(); // all six are older than 30 days now
    // One batch that ends after the third of them (batches go in id order over every conversation).
    const older = await server.ctx.db.$count(messages, lt(messages.id, sent[0]!));
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
