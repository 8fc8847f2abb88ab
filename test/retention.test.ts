// Retention (ops/retention.ts): old delivered events, finished runs, activity
// and (when configured) messages are deleted in batches; everything younger,
// and everything not finished or not delivered, stays. A fake clock drives it.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import path from "node:path";
import { PNG_1x1, startTestServer, TEST_BACKEND, withAgent, writeDb } from "./helpers.ts";
import { idAt, pruneBatch, PRUNE_BATCH } from "../server/ops/retention.ts";
import { serveConfig } from "../server/cli/serve.ts";
import { isoMs } from "../server/lib/time.ts";
import { eq, inArray, type SQL } from "drizzle-orm";
import { activity, media, messages, outbox, runContext, taskRuns } from "../server/db/tables.ts";
import { first } from "../server/db/rows.ts";

const DAY = 86_400_000;
let seq = 0;
/** An id of the given prefix made at ms (time-ordered like lib/ids.ts). */
const idFor = (prefix: string, ms: number) => idAt(prefix, ms) + (seq++).toString(16).padStart(4, "0") + "abcd0123";

describe("retention", async () => {
  let clock = Date.now();
  const server = await startTestServer({ now: () => clock, keepDeliveriesMs: 7 * DAY, keepRunsMs: 90 * DAY, keepActivityMs: 90 * DAY, keepMessagesMs: 30 * DAY });
  const { person, created, agent } = await withAgent(server);
  const db = writeDb(server.ctx); // inserts rows: the writer's connection
  const events = (where?: SQL) => server.ctx.db.$count(outbox, where);

  const event = (status: "delivered" | "pending" | "undelivered", createdMs: number, deliveredMs: number | null) => ({
    id: idFor("evt_", createdMs),
    agentId: created.id,
    type: "user_message" as const,
    payload: "{}",
    status,
    createdAt: isoMs(createdMs),
    deliveredAt: deliveredMs === null ? null : isoMs(deliveredMs),
    deliveredVia: deliveredMs === null ? null : ("webhook" as const),
  });
  async function addEvent(...args: Parameters<typeof event>) {
    const row = event(...args);
    await db.insert(outbox).values(row);
    return row.id;
  }

  test("delivered events older than --keep-deliveries go, in batches; younger and undelivered ones stay", async () => {
    const n = PRUNE_BATCH * 2 + 200;
    await db.insert(outbox).values(Array.from({ length: n }, () => event("delivered", clock - 9 * DAY, clock - 8 * DAY)));
    const young = await addEvent("delivered", clock - 9 * DAY, clock - 6 * DAY); // delivered late: its age counts from delivery
    const pending = await addEvent("pending", clock - 60 * DAY, null);
    const undelivered = await addEvent("undelivered", clock - 60 * DAY, null);
    const before = await events();

    // One batch takes at most PRUNE_BATCH rows.
    expect((await pruneBatch(server.ctx, "outbox", clock - 7 * DAY)).n).toBe(PRUNE_BATCH);
    const pruned = await server.live.retention.run();
    expect(pruned.outbox).toBe(n - PRUNE_BATCH);
    expect(await events()).toBe(before - n);
    for (const id of [young, pending, undelivered]) expect(await events(eq(outbox.id, id))).toBe(1);
    // The undelivered ones are still listed for people.
    const listed = await person.get("/api/deliveries");
    expect(listed.body.map((d: any) => d.event_id)).toEqual(expect.arrayContaining([pending, undelivered]));

    clock += 2 * DAY; // now the late one is 8 days past delivery
    expect((await server.live.retention.run()).outbox).toBe(1);
    expect(await events(eq(outbox.id, young))).toBe(0);
    expect(await events(inArray(outbox.id, [pending, undelivered]))).toBe(2);
  });

  test("finished runs older than --keep-runs go with their context; unfinished and young ones stay; messages keep the run id", async () => {
    const task = (await person.post(`/api/agents/${created.id}/tasks`, { name: "Nightly", prompt: "Check", schedule: "0 3 * * *" })).body;
    const run = async (status: "due" | "running" | "completed" | "failed", createdMs: number, finishedMs: number | null) => {
      const id = idFor("run_", createdMs);
      const at = isoMs(createdMs);
      await db.insert(taskRuns).values({ id, taskId: task.id, agentId: created.id, status, trigger: "schedule", createdAt: at, startedAt: at, finishedAt: finishedMs === null ? null : isoMs(finishedMs) });
      return id;
    };
    const oldDone = await run("completed", clock - 100 * DAY, clock - 100 * DAY);
    const oldFailed = await run("failed", clock - 95 * DAY, clock - 91 * DAY);
    const youngDone = await run("completed", clock - 100 * DAY, clock - 80 * DAY); // ran long: counted from its finish
    const stillRunning = await run("running", clock - 200 * DAY, null);
    const stillDue = await run("due", clock - 200 * DAY, null);
    await db.insert(runContext).values({ runId: oldDone, blockId: 1, text: "context", createdAt: isoMs(clock - 100 * DAY) });
    // A message about the old run, sent while it was running.
    const sent = await agent.event({ type: "message", text: "report", task_run_id: oldDone });
    expect(sent.status).toBe(200);

    expect((await server.live.retention.run()).task_runs).toBe(2);
    const left = (await server.ctx.db.select({ id: taskRuns.id }).from(taskRuns).orderBy(taskRuns.id)).map((r) => r.id);
    expect(left.sort()).toEqual([youngDone, stillRunning, stillDue].sort());
    expect(await server.ctx.db.$count(runContext, eq(runContext.runId, oldDone))).toBe(0);
    expect((await person.get(`/api/tasks/runs/${oldFailed}`)).status).toBe(404);
    expect((await person.get(`/api/tasks/runs/${youngDone}`)).status).toBe(200);
    const msgs = await person.get(`/api/conversations/${sent.body.conversation_id}/messages`);
    expect(msgs.body.find((m: any) => m.id === sent.body.message_id)?.task_run_id).toBe(oldDone);
  });

  test("activity older than --keep-activity goes; newer stays", async () => {
    const entry = (title: string, ms: number) => ({ id: idFor("act_", ms), agentId: created.id, type: "system" as const, title, createdAt: isoMs(ms) });
    await db.insert(activity).values([entry("old", clock - 91 * DAY), entry("young", clock - 89 * DAY)]);
    expect((await server.live.retention.run()).activity).toBeGreaterThanOrEqual(1);
    const feed = await person.get(`/api/agents/${created.id}/activity`);
    const titles = feed.body.map((a: any) => a.title);
    expect(titles).toContain("young");
    expect(titles).not.toContain("old");
  });

  test("with --keep-messages, old messages go with their images", async () => {
    const withImage = await agent.event({ type: "message", text: "a picture", image_base64: PNG_1x1 });
    const plain = await agent.event({ type: "message", text: "words" });
    const stored = first(await server.ctx.db.select({ u: messages.imageUrl }).from(messages).where(eq(messages.id, withImage.body.message_id)))!;
    const imageName = stored.u!.split("/").pop()!;
    // Where the image is kept: a file in DATA/media on SQLite, a row of the media table on PostgreSQL.
    const imageKept = async () =>
      TEST_BACKEND === "pg" ? (await server.ctx.db.$count(media, eq(media.name, imageName))) === 1 : existsSync(path.join(server.dataDir, "media", imageName));
    expect(await imageKept()).toBe(true);
    await Bun.sleep(5);
    const recent = await agent.event({ type: "message", text: "recent" });
    // 30 days after `recent` was made: the two before it are older than --keep-messages 30d, it is not.
    clock = Number.parseInt(recent.body.message_id.slice(4, 16), 16) + 30 * DAY;

    expect((await server.live.retention.run()).messages).toBeGreaterThanOrEqual(2);
    // (the person's session is 30 days old by now too: the rows are read directly)
    const ids = (await server.ctx.db.select({ id: messages.id }).from(messages)).map((m) => m.id);
    expect(ids).toContain(recent.body.message_id);
    expect(ids).not.toContain(withImage.body.message_id);
    expect(ids).not.toContain(plain.body.message_id);
    expect(await imageKept()).toBe(false);
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
