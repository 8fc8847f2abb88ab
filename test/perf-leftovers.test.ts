// The performance issue's leftovers: retention of expired sessions and old
// push markers, unread counts kept right when --keep-messages prunes unread
// messages, and GET /api/agents paged by default (the inbox follows ?before).
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { AgentClient, eventually, owner, Person, startTestServer } from "./helpers.ts";
import { standInPushService } from "./push-service.ts";
import { PRUNE_BATCH, PUSH_MARKERS_KEPT_MS, pruneBatch } from "../server/ops/retention.ts";
import { sha256hex } from "../server/lib/secrets.ts";
import { isoMs } from "../server/lib/time.ts";

setDefaultTimeout(20_000); // servers and pushes on a busy machine (a hang guard, not a time check)

const DAY = 86_400_000;

describe("retention: expired sessions", async () => {
  let clock = Date.now();
  const server = await startTestServer({ now: () => clock });
  const alice = await owner(server);
  const sqlite = server.ctx.db.$client;
  const sessions = () => sqlite.query<{ n: number }, []>("SELECT count(*) AS n FROM sessions").get()!.n;
  const userId = sqlite.query<{ id: string }, []>("SELECT id FROM users").get()!.id;

  test("sessions past their expiry go, in batches; a live one stays and still signs its person in", async () => {
    const expired = PRUNE_BATCH * 2 + 50;
    const insert = sqlite.prepare("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)");
    sqlite.transaction(() => {
      for (let i = 0; i < expired; i++) insert.run(sha256hex(`old ${i}`), userId, isoMs(clock - 40 * DAY), isoMs(clock - 10 * DAY - i));
    })();
    expect(sessions()).toBe(expired + 1);

    expect(pruneBatch(server.ctx, "sessions", clock).n).toBe(PRUNE_BATCH); // one batch takes at most PRUNE_BATCH
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
  const sqlite = server.ctx.db.$client;
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
    expect(pruneBatch(server.ctx, "push_queue", clock - PUSH_MARKERS_KEPT_MS).n).toBe(PRUNE_BATCH);
    expect((await server.live.retention.run()).push_queue).toBe(n - PRUNE_BATCH);
    expect(sqlite.query<{ n: number }, []>("SELECT count(*) AS n FROM push_queue WHERE status = 'sent' AND tag LIKE 'dec_old_%'").get()!.n).toBe(0);
  });
});
