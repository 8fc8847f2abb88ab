// Retention (ops/retention.ts): old delivered events, finished runs, activity
// and (when configured) messages are deleted in batches; everything younger,
// and everything not finished or not delivered, stays. A fake clock drives it.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import path from "node:path";
import { PNG_1x1, startTestServer, withAgent, writeDb } from "./helpers.ts";
import { idAt, pruneBatch, PRUNE_BATCH } from "../server/ops/retention.ts";
import { serveConfig } from "../server/cli/serve.ts";
import { isoMs } from "../server/lib/time.ts";

const DAY = 86_400_000;
let seq = 0;
/** An id of the given prefix made at ms (time-ordered like lib/ids.ts). */
const idFor = (prefix: string, ms: number) => idAt(prefix, ms) + (seq++).toString(16).padStart(4, "0") + "abcd0123";

describe("retention", async () => {
  let clock = Date.now();
  const server = await startTestServer({ now: () => clock, keepDeliveriesMs: 7 * DAY, keepRunsMs: 90 * DAY, keepActivityMs: 90 * DAY, keepMessagesMs: 30 * DAY });
  const { person, created, agent } = await withAgent(server);
  const sqlite = writeDb(server.ctx).$client; // inserts rows: the writer's connection
  const count = (q: string, ...args: any[]) => (sqlite.query(q).get(...args) as { n: number }).n;

  const outbox = sqlite.prepare(
    "INSERT INTO outbox (id, agent_id, type, payload, status, created_at, delivered_at, delivered_via) VALUES (?, ?, 'user_message', '{}', ?, ?, ?, ?)",
  );
  function addEvent(status: "delivered" | "pending" | "undelivered", createdMs: number, deliveredMs: number | null) {
    const id = idFor("evt_", createdMs);
    outbox.run(id, created.id, status, isoMs(createdMs), deliveredMs === null ? null : isoMs(deliveredMs), deliveredMs === null ? null : "webhook");
    return id;
  }

  test("delivered events older than --keep-deliveries go, in batches; younger and undelivered ones stay", async () => {
    const n = PRUNE_BATCH * 2 + 200;
    sqlite.transaction(() => {
      for (let i = 0; i < n; i++) addEvent("delivered", clock - 9 * DAY, clock - 8 * DAY);
    })();
    const young = addEvent("delivered", clock - 9 * DAY, clock - 6 * DAY); // delivered late: its age counts from delivery
    const pending = addEvent("pending", clock - 60 * DAY, null);
    const undelivered = addEvent("undelivered", clock - 60 * DAY, null);
    const before = count("SELECT count(*) AS n FROM outbox");

    // One batch takes at most PRUNE_BATCH rows.
    expect((await pruneBatch(server.ctx, "outbox", clock - 7 * DAY)).n).toBe(PRUNE_BATCH);
    const pruned = await server.live.retention.run();
    expect(pruned.outbox).toBe(n - PRUNE_BATCH);
    expect(count("SELECT count(*) AS n FROM outbox")).toBe(before - n);
    for (const id of [young, pending, undelivered]) expect(count("SELECT count(*) AS n FROM outbox WHERE id = ?", id)).toBe(1);
    // The undelivered ones are still listed for people.
    const listed = await person.get("/api/deliveries");
    expect(listed.body.map((d: any) => d.event_id)).toEqual(expect.arrayContaining([pending, undelivered]));

    clock += 2 * DAY; // now the late one is 8 days past delivery
    expect((await server.live.retention.run()).outbox).toBe(1);
    expect(count("SELECT count(*) AS n FROM outbox WHERE id = ?", young)).toBe(0);
    expect(count("SELECT count(*) AS n FROM outbox WHERE id IN (?, ?)", pending, undelivered)).toBe(2);
  });

  test("finished runs older than --keep-runs go with their context; unfinished and young ones stay; messages keep the run id", async () => {
    const task = (await person.post(`/api/agents/${created.id}/tasks`, { name: "Nightly", prompt: "Check", schedule: "0 3 * * *" })).body;
    const insertRun = sqlite.prepare(
      "INSERT INTO task_runs (id, task_id, agent_id, status, trigger, created_at, started_at, finished_at) VALUES (?, ?, ?, ?, 'schedule', ?, ?, ?)",
    );
    const run = (status: string, createdMs: number, finishedMs: number | null) => {
      const id = idFor("run_", createdMs);
      insertRun.run(id, task.id, created.id, status, isoMs(createdMs), isoMs(createdMs), finishedMs === null ? null : isoMs(finishedMs));
      return id;
    };
    const oldDone = run("completed", clock - 100 * DAY, clock - 100 * DAY);
    const oldFailed = run("failed", clock - 95 * DAY, clock - 91 * DAY);
    const youngDone = run("completed", clock - 100 * DAY, clock - 80 * DAY); // ran long: counted from its finish
    const stillRunning = run("running", clock - 200 * DAY, null);
    const stillDue = run("due", clock - 200 * DAY, null);
    sqlite.run("INSERT INTO run_context (run_id, block_id, text, created_at) VALUES (?, 1, 'context', ?)", [oldDone, isoMs(clock - 100 * DAY)]);
    // A message about the old run, sent while it was running.
    const sent = await agent.event({ type: "message", text: "report", task_run_id: oldDone });
    expect(sent.status).toBe(200);

    expect((await server.live.retention.run()).task_runs).toBe(2);
    const left = (sqlite.query("SELECT id FROM task_runs ORDER BY id").all() as { id: string }[]).map((r) => r.id);
    expect(left.sort()).toEqual([youngDone, stillRunning, stillDue].sort());
    expect(count("SELECT count(*) AS n FROM run_context WHERE run_id = ?", oldDone)).toBe(0);
    expect((await person.get(`/api/tasks/runs/${oldFailed}`)).status).toBe(404);
    expect((await person.get(`/api/tasks/runs/${youngDone}`)).status).toBe(200);
    const msgs = await person.get(`/api/conversations/${sent.body.conversation_id}/messages`);
    expect(msgs.body.find((m: any) => m.id === sent.body.message_id)?.task_run_id).toBe(oldDone);
  });

  test("activity older than --keep-activity goes; newer stays", async () => {
    const insert = sqlite.prepare("INSERT INTO activity (id, agent_id, type, title, created_at) VALUES (?, ?, 'system', ?, ?)");
    const old = idFor("act_", clock - 91 * DAY);
    const young = idFor("act_", clock - 89 * DAY);
    insert.run(old, created.id, "old", isoMs(clock - 91 * DAY));
    insert.run(young, created.id, "young", isoMs(clock - 89 * DAY));
    expect((await server.live.retention.run()).activity).toBeGreaterThanOrEqual(1);
    const feed = await person.get(`/api/agents/${created.id}/activity`);
    const titles = feed.body.map((a: any) => a.title);
    expect(titles).toContain("young");
    expect(titles).not.toContain("old");
  });

  test("with --keep-messages, old messages go with their images", async () => {
    const withImage = await agent.event({ type: "message", text: "a picture", image_base64: PNG_1x1 });
    const plain = await agent.event({ type: "message", text: "words" });
    const media = path.join(server.dataDir, "media");
    const imageName = (sqlite.query("SELECT image_url AS u FROM messages WHERE id = ?").get(withImage.body.message_id) as { u: string }).u.split("/").pop()!;
    expect(existsSync(path.join(media, imageName))).toBe(true);
    await Bun.sleep(5);
    const recent = await agent.event({ type: "message", text: "recent" });
    // 30 days after `recent` was made: the two before it are older than --keep-messages 30d, it is not.
    clock = Number.parseInt(recent.body.message_id.slice(4, 16), 16) + 30 * DAY;

    expect((await server.live.retention.run()).messages).toBeGreaterThanOrEqual(2);
    // (the person's session is 30 days old by now too: the rows are read directly)
    const ids = (sqlite.query("SELECT id FROM messages").all() as { id: string }[]).map((m) => m.id);
    expect(ids).toContain(recent.body.message_id);
    expect(ids).not.toContain(withImage.body.message_id);
    expect(ids).not.toContain(plain.body.message_id);
    expect(existsSync(path.join(media, imageName))).toBe(false);
    expect((await fetch(`${server.url}/media/${imageName}`)).status).toBe(404);
  });

  test("pruned rows are counted in /metrics", () => {
    const text = server.ctx.metrics.render();
    expect(text).toMatch(/^nod_pruned_rows_total\{table="outbox"\} \d+$/m);
    expect(text).toMatch(/^nod_pruned_rows_total\{table="task_runs"\} \d+$/m);
  });
});

test("by default messages are kept forever", async () => {
  const server = await startTestServer({ now: () => Date.now() + 10 * 365 * DAY });
  const { person, agent } = await withAgent(server);
  const sent = await agent.event({ type: "message", text: "keep me" });
  const pruned = await server.live.retention.run();
  expect(pruned.messages).toBe(0);
  expect(pruned.activity).toBeGreaterThanOrEqual(1); // …while activity is kept 90 days
  const ids = (await person.get(`/api/conversations/${sent.body.conversation_id}/messages`)).body.map((m: any) => m.id);
  expect(ids).toContain(sent.body.message_id);
});

describe("retention flags", () => {
  test("durations, 0 for forever, environment variables, defaults", () => {
    const c = serveConfig(["--keep-deliveries", "2d", "--keep-runs", "0", "--data", "/tmp/x"]);
    if (c === "help") throw new Error("help");
    expect(c.keepDeliveriesMs).toBe(2 * DAY);
    expect(c.keepRunsMs).toBe(0);
    expect(c.keepActivityMs).toBe(90 * DAY);
    expect(c.keepMessagesMs).toBe(0);
    process.env.NOD_KEEP_MESSAGES = "365d";
    try {
      const e = serveConfig(["--data", "/tmp/x"]);
      expect(e !== "help" && e.keepMessagesMs).toBe(365 * DAY);
    } finally {
      delete process.env.NOD_KEEP_MESSAGES;
    }
  });

  test("a malformed age is a usage error naming the flag", () => {
    expect(() => serveConfig(["--keep-runs", "forever"])).toThrow("--keep-runs: not a duration");
  });
});
