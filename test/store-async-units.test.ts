// Step 2 of the async store seam (docs/scale.md): the writer takes async units
// of work. On SQLite their awaited queries run at once, so a batch of them
// still commits in one macrotask; what a unit drops from the caches is dropped
// again after its COMMIT.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { eq } from "drizzle-orm";
import { startTestServer, TEST_BACKEND, withAgent } from "./helpers.ts";
import { describeSqlite } from "./pg-helpers.ts";
import { agents } from "../server/db/tables.ts";
import { first } from "../server/db/rows.ts";
import { forgetAgent, knownAgent } from "../server/agents/service.ts";
import { StoreCache } from "../server/db/store-cache.ts";

setDefaultTimeout(60_000); // a hang guard

describe("async units of work", async () => {
  const server = await startTestServer();
  const { created } = await withAgent(server, { name: "Deploy Bot" });
  const { writer, db } = server.ctx;
  const row = async () => first(await db.select().from(agents).where(eq(agents.id, created.id)))!;
  const nameOf = async () => (await row()).name;
  const rename = async (uow: { db: typeof db }, name: string) => {
    await uow.db.update(agents).set({ name }).where(eq(agents.id, created.id));
    return (await uow.db.select().from(agents).where(eq(agents.id, created.id)))[0]!.name;
  };

  test("an async unit in run() sees its own awaited writes; ctx.db sees them once the promise settles", async () => {
    const inside = await writer.run((uow) => rename(uow, "Async"));
    expect(inside).toBe("Async");
    expect(await nameOf()).toBe("Async");
  });

  test("async now() commits and resolves with the unit's result", async () => {
    const inside = await writer.now(async (uow) => rename(uow, "Now"));
    expect(inside).toBe("Now");
    expect(await nameOf()).toBe("Now");
  });

  test("a failing async unit takes back only its own rows: the sync and async units around it in the batch commit", async () => {
    const results = await Promise.allSettled([
      // a synchronous unit where there are such (SQLite's queries run at once; PostgreSQL's units are all async)
      TEST_BACKEND === "sqlite"
        ? writer.run((uow) => uow.db.update(agents).set({ avatar: "🙂" }).where(eq(agents.id, created.id)).run())
        : writer.run(async (uow) => void (await uow.db.update(agents).set({ avatar: "🙂" }).where(eq(agents.id, created.id)))),
      writer.run(async (uow) => {
        await rename(uow, "Rolled back");
        throw new Error("no");
      }),
      writer.run(async (uow) => {
        await uow.db.update(agents).set({ type: "approval_only" }).where(eq(agents.id, created.id));
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const { name, avatar, type } = await row();
    expect({ name, avatar, type }).toEqual({ name: "Now", avatar: "🙂", type: "approval_only" });
  });

  test("an agent a read keeps while a unit that changes it is open is dropped after the commit: the next read has the new row", async () => {
    await knownAgent(db, created.id); // kept in memory
    await writer.run(async (uow) => {
      forgetAgent(uow, created.id);
      await uow.db.update(agents).set({ name: "Renamed" }).where(eq(agents.id, created.id));
      // a read on the other connection before the COMMIT sees the old row and keeps it
      expect((await knownAgent(db, created.id))!.name).not.toBe("Renamed");
    });
    expect((await knownAgent(db, created.id))!.name).toBe("Renamed");
  });

  test("what a unit asks to run after its commit does not run when it rolls back", async () => {
    const ran: string[] = [];
    await writer
      .run(async (uow) => {
        uow.afterCommit(() => ran.push("rolled back"));
        throw new Error("no");
      })
      .catch(() => {});
    await writer.run(async (uow) => uow.afterCommit(() => ran.push("committed")));
    expect(ran).toEqual(["committed"]);
  });

  test("a cache read that answers after the row was forgotten does not keep what it read (a PostgreSQL read is a round trip)", async () => {
    const cache = new StoreCache<string>(10);
    let answer!: (v: string) => void;
    const loading = cache.load(db, "k", () => new Promise<string>((r) => (answer = r)));
    await writer.now(async (uow) => cache.forget(uow, "k")); // the change commits while the read is on its way
    answer("old");
    expect(await loading).toBe("old");
    expect(cache.get(db, "k")).toBeUndefined();
    expect(await cache.load(db, "k", async () => "new")).toBe("new"); // with nothing forgotten meanwhile, kept
    expect(cache.get(db, "k")).toBe("new");
  });

  // SQLite's writer only: its queries run at once, so units can be synchronous and a batch fits in one macrotask.
  describeSqlite("on SQLite", () => {
    test("a batch of async units commits before the next macrotask runs", async () => {
      const order: string[] = [];
      await Promise.all([
        writer.run(async (uow) => {
          setImmediate(() => order.push("next macrotask"));
          await rename(uow, "One");
        }),
        writer.run(async (uow) => {
          await rename(uow, "Two");
        }),
      ]).then(() => order.push("committed"));
      await new Promise((r) => setImmediate(r));
      expect(order).toEqual(["committed", "next macrotask"]);
    });

    test("a plain function that returns a promise is refused by now(): units that await are async functions", () => {
      const before = writer.writes;
      expect(() => writer.now(() => Promise.resolve(1))).toThrow(/async function/);
      expect(writer.writes).toBe(before);
    });
  });
});

// The files converted so far: every query awaited (on PostgreSQL nothing runs
// synchronously). The list grows folder by folder until it is every service.
const CONVERTED = ["server/push/service.ts", "server/push/vapid.ts", "server/push/people.ts", "server/auth/service.ts", "server/auth/guard.ts", "server/auth/public.ts", "server/delivery/service.ts", "server/delivery/people.ts",
  "server/db/outbox.ts", "server/activity/service.ts", "server/activity/people.ts", "server/push/notices.ts", "server/conversations/service.ts", "server/conversations/people.ts",
  "server/events/service.ts", "server/decisions/service.ts", "server/decisions/cancel.ts", "server/decisions/expiry.ts", "server/decisions/long-poll.ts", "server/decisions/people.ts", "server/decisions/agent.ts",
  "server/agents/service.ts", "server/agents/guard.ts", "server/agents/people.ts",
  "server/delivery/outbox-queries.ts", "server/delivery/dispatcher.ts", "server/delivery/socket-push.ts", "server/delivery/retry-timer.ts",
  "server/realtime/agent-socket.ts", "server/realtime/inbox-socket.ts", "server/push/sender.ts",
  "server/tasks/service.ts", "server/tasks/run-create.ts", "server/tasks/run-progress.ts", "server/tasks/run-context.ts", "server/tasks/run-timeout.ts",
  "server/tasks/open-runs.ts", "server/tasks/trigger-call.ts", "server/tasks/scheduler.ts", "server/tasks/agent.ts", "server/tasks/people.ts", "server/tasks/trigger.ts",
  "server/lib/due-loop.ts"];

describe("converted services await every query", () => {
  for (const file of CONVERTED)
    test(`${file}: no synchronous .get()/.all()/.run()/.values() and no $client`, async () => {
      const src = await Bun.file(new URL(`../${file}`, import.meta.url)).text();
      // drizzle's synchronous executors, .get() .all() .run() .values(), the first three also with a prepared statement's placeholders ({…});
      // raw statements go through $client (below). writer.run(fn) is not one of them.
      const sync = src.split("\n").filter((line) => /\.(get|all|run)\((\s*\)|\{)|\.values\(\s*\)/.test(line.replace(/\/\/.*$/, "")));
      expect(sync).toEqual([]);
      expect(src.includes("$client")).toBe(false);
    });
});
