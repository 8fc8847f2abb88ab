// The PostgreSQL store (db/store.ts) and its writer (db/pg-writer.ts) on a
// real database, mirroring what test/store-async-units.test.ts holds for
// SQLite: a unit sees its own writes and nobody else does before the COMMIT;
// a failing unit takes back only its own rows; effects leave once, after the
// COMMIT, never for a rolled-back unit; units arriving together share a
// transaction. Also: migrations at open (twice at once on one fresh
// database), /healthz's check, and --database on the command line.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { SQL } from "bun";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { eq, sql } from "drizzle-orm";
import { describePg, freshDatabase } from "./pg-helpers.ts";
import { startTestServer, tempDir, TEST_BACKEND } from "./helpers.ts";
import { spawnNod } from "./cli-util.ts";
import { openStore, type Store } from "../server/db/store.ts";
import { asPg, PgWriter } from "../server/db/pg-writer.ts";
import { users, dialect } from "../server/db/tables.ts";
import * as pgSchema from "../server/db/schema-pg.ts";
import { idAt, pruneBatch } from "../server/ops/retention.ts";
import type { Effects, UnitOfWork } from "../server/db/unit-of-work.ts";
import { databaseCheck } from "../server/ops/health.ts";
import { serveConfig } from "../server/cli/serve.ts";
import { UsageError } from "../server/cli/args.ts";
import type { Config } from "../server/config.ts";
import { timeId } from "../server/lib/ids.ts";
import { SignInLimits } from "../server/auth/limits.ts";
import type { Ctx } from "../server/context.ts";

setDefaultTimeout(60_000); // a hang guard (databases, a cluster, a process), never a time check

const DAY = 86_400_000;
const ROOT = path.resolve(import.meta.dir, "..");
const journal = () => (JSON.parse(readFileSync(path.join(ROOT, "drizzle-pg/meta/_journal.json"), "utf8")) as { entries: unknown[] }).entries.length;

const person = (username: string) => ({ id: timeId("usr_"), username, passwordHash: "x", createdAt: new Date().toISOString() });
const insertPerson = async (uow: UnitOfWork, username: string) => {
  const row = person(username);
  await uow.db.insert(users).values(row);
  return row;
};

describePg("the PostgreSQL writer", () => {
  let store: Store;
  let drop: () => Promise<void>;
  let other: SQL; // another connection, outside the writer's pool
  let url: string;
  const released: Effects[] = [];
  const names = async () => ((await other`SELECT username FROM users ORDER BY username`) as { username: string }[]).map((r) => r.username);
  const clear = () => other`DELETE FROM users`;

  beforeAll(async () => {
    const db = await freshDatabase();
    drop = db.drop;
    url = db.url;
    store = await openStore({ dataDir: tempDir(), databaseUrl: db.url });
    store.writer.setSink((e) => released.push(e));
    other = new SQL(db.url, { max: 1 });
  });
  afterAll(async () => {
    await store?.close();
    await other?.close();
    await drop?.();
  });

  test("the store is PostgreSQL's: tables.ts points at schema-pg.ts", () => {
    expect(store.dialect).toBe("pg");
    expect(dialect).toBe("pg");
  });

  test("a unit sees its own writes; another connection sees them only once the unit's promise settles", async () => {
    await clear();
    let outsideDuring: string[] = [];
    const inside = await store.writer.run(async (uow) => {
      const row = await insertPerson(uow, "ada");
      outsideDuring = await names();
      return (await uow.db.select().from(users).where(eq(users.id, row.id))).map((r) => r.username);
    });
    expect(inside).toEqual(["ada"]);
    expect(outsideDuring).toEqual([]);
    expect(await names()).toEqual(["ada"]);
  });

  test("now() returns a promise for any unit, and resolves after the COMMIT with the unit's result", async () => {
    await clear();
    const p = store.writer.now((uow) => uow.db.insert(users).values(person("bo")).then(() => "done"));
    expect(p).toBeInstanceOf(Promise);
    expect(await p).toBe("done");
    expect(await names()).toEqual(["bo"]);
  });

  test("a failing unit takes back only its own rows: the units around it in the same transaction commit", async () => {
    await clear();
    const before = store.writer.batches;
    const results = await Promise.allSettled([
      store.writer.run((uow) => insertPerson(uow, "a")),
      store.writer.run(async (uow) => {
        await insertPerson(uow, "b");
        await insertPerson(uow, "a"); // a duplicate username: PostgreSQL refuses it
      }),
      store.writer.run(async (uow) => {
        await insertPerson(uow, "c");
        throw new Error("no");
      }),
      store.writer.run((uow) => insertPerson(uow, "d")),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled"]);
    expect(String((results[2] as PromiseRejectedResult).reason)).toContain("no");
    expect(store.writer.batches - before).toBe(1); // one transaction for all four
    expect(await names()).toEqual(["a", "d"]);
  });

  test("effects leave once, after the COMMIT (their rows are visible elsewhere by then), and never for a unit that rolled back", async () => {
    await clear();
    released.length = 0;
    const seenBySink: Promise<string[]>[] = [];
    store.writer.setSink((e) => {
      released.push(e);
      seenBySink.push(names()); // asked on another connection as the effects arrive
    });
    await Promise.allSettled([
      store.writer.run(async (uow) => {
        await insertPerson(uow, "kept");
        uow.toInbox({ type: "person", id: "kept" });
        uow.settled("dec_kept");
      }),
      store.writer.run(async (uow) => {
        await insertPerson(uow, "gone");
        uow.toInbox({ type: "person", id: "gone" });
        uow.settled("dec_gone");
        throw new Error("rolled back");
      }),
    ]);
    store.writer.setSink((e) => released.push(e));
    expect(released.flatMap((e) => e.inbox)).toEqual([{ type: "person", id: "kept" }]);
    expect(released.flatMap((e) => e.settled)).toEqual(["dec_kept"]);
    expect(await Promise.all(seenBySink)).toEqual([["kept"]]);
  });

  test("afterCommit runs for a committed unit before its caller hears back, and not for one that rolled back", async () => {
    const ran: string[] = [];
    await store.writer
      .run(async (uow) => {
        uow.afterCommit(() => ran.push("rolled back"));
        await insertPerson(uow, "x");
        throw new Error("no");
      })
      .catch(() => {});
    await store.writer.run(async (uow) => uow.afterCommit(() => ran.push("committed"))).then(() => ran.push("caller"));
    expect(ran).toEqual(["committed", "caller"]);
  });

  test("many callers at once share transactions: fewer batches than units, and every row is there", async () => {
    await clear();
    const { batches, writes } = store.writer;
    // 32 callers, each writing 5 units one after the other (as requests do)
    await Promise.all(
      Array.from({ length: 32 }, async (_, c) => {
        for (let i = 0; i < 5; i++) await store.writer.run((uow) => insertPerson(uow, `p${c}-${i}`));
      }),
    );
    expect(store.writer.writes - writes).toBe(160);
    expect(store.writer.batches - batches).toBeLessThan(160);
    expect((await names()).length).toBe(160);
  });

  test("a writer allowed several batches at once shares the queue among them, each on its own connection; flush() waits for all of them", async () => {
    await clear();
    const wide = new PgWriter(store.db, { maxBatches: 4 });
    const done = Array.from({ length: 32 }, (_, i) => wide.run((uow) => insertPerson(uow, `w${String(i).padStart(2, "0")}`)));
    await wide.flush();
    expect(wide.batches).toBe(4);
    expect(wide.writes).toBe(32);
    expect((await names()).length).toBe(32);
    await Promise.all(done);
  });

  test("a deadlock takes back the whole batch and runs it again: the unit commits once, its effects leave once", async () => {
    await clear();
    released.length = 0;
    const [x, y] = [person("x"), person("y")];
    await asPg(store.db).insert(pgSchema.users).values([x, y]);
    const retries = (store.writer as unknown as { retries: number }).retries;
    let attempts = 0;
    let holdsY!: () => void;
    let holdsX!: () => void;
    const writerHoldsY = new Promise<void>((r) => (holdsY = r));
    const rivalHoldsX = new Promise<void>((r) => (holdsX = r));
    const rival = new SQL(url, { max: 1 });
    const rivalDone = rival.begin(async (tx) => {
      await tx`SET LOCAL deadlock_timeout = '10s'`; // the writer's side finds the deadlock (and is the one taken back)
      await tx`UPDATE users SET username = 'x by rival' WHERE id = ${x.id}`;
      holdsX();
      await writerHoldsY;
      await tx`UPDATE users SET username = 'y by rival' WHERE id = ${y.id}`;
    });
    await rivalHoldsX;
    const result = await store.writer.run(async (uow) => {
      attempts++;
      await asPg(uow.db).execute(sql`SET LOCAL deadlock_timeout = '50ms'`);
      await uow.db.update(users).set({ username: "y by writer" }).where(eq(users.id, y.id));
      holdsY();
      await uow.db.update(users).set({ username: "x by writer" }).where(eq(users.id, x.id));
      uow.toInbox({ type: "person", id: "deadlocked" });
      return "committed";
    });
    await rivalDone;
    await rival.close();
    expect(result).toBe("committed");
    // Taken back at least once (a loaded machine may see the deadlock again on the next attempt), committed once.
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect((store.writer as unknown as { retries: number }).retries - retries).toBe(attempts - 1);
    expect(released.flatMap((e) => e.inbox)).toEqual([{ type: "person", id: "deadlocked" }]);
    // the rival committed first (its transaction was not the one taken back), the writer after it
    expect(await names()).toEqual(["x by writer", "y by writer"]);
  });

  test("retention prunes on PostgreSQL: batches of expired sessions, old messages with their images and their part of the unread count", async () => {
    const pg = asPg(store.db);
    const ctx = { writer: store.writer } as unknown as Ctx;
    const now = Date.now();
    const owner = person("owner");
    await pg.insert(pgSchema.users).values(owner);
    const at = new Date(now).toISOString();
    await pg.insert(pgSchema.sessions).values([1, 2, 3].map((i) => ({ tokenHash: `t${i}`, userId: owner.id, createdAt: at, expiresAt: new Date(now - i * 1000).toISOString() })));
    expect((await pruneBatch(ctx, "sessions", now, 2)).n).toBe(2);
    expect((await pruneBatch(ctx, "sessions", now, 2)).n).toBe(1);
    expect(await pg.$count(pgSchema.sessions)).toBe(0);

    await pg.insert(pgSchema.agents).values({ id: "agt_r", name: "R", type: "interactive", secretHash: "x", webhookSecret: "x", createdAt: at, updatedAt: at });
    const [old1, old2, young] = [idAt("msg_", now - 3 * DAY) + "01", idAt("msg_", now - 2 * DAY) + "01", idAt("msg_", now) + "01"];
    // unread: the agent's two messages from old2 on
    await pg.insert(pgSchema.conversations).values({ id: "conv_r", agentId: "agt_r", title: "R", unread: 2, unreadSince: old2, createdAt: at, updatedAt: at });
    const message = (id: string, role: "user" | "agent", imageUrl: string | null = null) => ({ id, conversationId: "conv_r", agentId: "agt_r", role, imageUrl, createdAt: at });
    await pg.insert(pgSchema.messages).values([message(old1, "user"), message(old2, "agent", "/media/img_old.png"), message(young, "agent")]);
    expect(await pruneBatch(ctx, "messages", now - DAY)).toEqual({ n: 2, images: ["/media/img_old.png"] });
    expect((await pg.select({ id: pgSchema.messages.id }).from(pgSchema.messages)).map((m) => m.id)).toEqual([young]);
    const [conv] = await pg.select().from(pgSchema.conversations);
    expect({ unread: conv!.unread, since: conv!.unreadSince }).toEqual({ unread: 1, since: old2 });
  });

  test("/healthz's check answers on PostgreSQL", async () => {
    const check = databaseCheck({ config: { dataDir: tempDir() } as Config, db: store.db });
    expect(await check()).toBeNull();
  });
});

describePg("opening a PostgreSQL store", () => {
  test("openStore applies drizzle-pg/ to a fresh database; two instances opening it at once both start, and it is migrated once", async () => {
    const fresh = await freshDatabase();
    const admin = new SQL(fresh.url, { max: 1 });
    try {
      const [a, b] = await Promise.all([0, 1].map(() => openStore({ dataDir: tempDir(), databaseUrl: fresh.url })));
      expect(a!.dialect).toBe("pg");
      expect(await asPg(a!.db).$count(pgSchema.users)).toBe(0);
      expect(await asPg(b!.db).$count(pgSchema.users)).toBe(0);
      const migrated = async () => ((await admin`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`) as { n: number }[])[0]!.n;
      expect(await migrated()).toBe(journal());
      await a!.close();
      await b!.close();
      // a restart finds nothing to do
      const again = await openStore({ dataDir: tempDir(), databaseUrl: fresh.url });
      await again.close();
      expect(await migrated()).toBe(journal());
    } finally {
      await admin.close();
      await fresh.drop();
    }
  });

  // Under NOD_TEST_BACKEND=pg other files' PostgreSQL servers may still be open in this worker: no SQLite store can open then.
  test.skipIf(process.env.NOD_TEST_BACKEND === "pg")("one dialect per process: a SQLite store is refused while a PostgreSQL one is open, and opens once it closed", async () => {
    const fresh = await freshDatabase();
    try {
      const pgStore = await openStore({ dataDir: tempDir(), databaseUrl: fresh.url });
      await expect(openStore({ dataDir: tempDir() })).rejects.toThrow("a pg store is open in this process");
      expect(dialect).toBe("pg");
      await pgStore.close();
      const sqlite = await openStore({ dataDir: tempDir() });
      expect(dialect).toBe("sqlite");
      await sqlite.close();
    } finally {
      await fresh.drop();
    }
  });

  test("/healthz's check reports a PostgreSQL server that stopped", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "nod-pg-stop-")); // the script hands it to the postgres user
    const cluster = path.join(ROOT, "scripts/pg-cluster.sh");
    const started = Bun.spawnSync([cluster, "start", dir]);
    expect(started.exitCode).toBe(0);
    const store = await openStore({ dataDir: tempDir(), databaseUrl: started.stdout.toString().trim() });
    try {
      const check = databaseCheck({ config: { dataDir: tempDir() } as Config, db: store.db });
      expect(await check()).toBeNull();
      Bun.spawnSync([cluster, "stop", dir]);
      expect(await check()).toMatch(/^cannot query PostgreSQL: /);
    } finally {
      await store.close();
      Bun.spawnSync([cluster, "stop", dir]);
      rmSync(dir, { recursive: true, force: true }); // what the stopping server wrote after the script's own rm
    }
  });
});

describePg("sign-in limits on PostgreSQL", () => {
  test("two instances checking at once count every attempt: exactly the limit gets through, the rest are refused", async () => {
    const fresh = await freshDatabase();
    const stores = await Promise.all([0, 1].map(() => openStore({ dataDir: tempDir(), databaseUrl: fresh.url })));
    try {
      const limits = stores.map((s) => new SignInLimits({ writer: s.writer, now: Date.now } as unknown as Ctx));
      // 12 attempts on each instance, all at once: each instance's batch is one transaction, both running together
      const attempts = await Promise.allSettled(limits.flatMap((l) => Array.from({ length: 12 }, () => l.begin("alice", "127.0.0.9"))));
      const refused = attempts.filter((a) => a.status === "rejected");
      expect(attempts.length - refused.length).toBe(10);
      for (const r of refused) expect((r as PromiseRejectedResult).reason).toMatchObject({ status: 429 });
      const rows = await asPg(stores[0]!.db).execute(sql`SELECT count FROM auth_limits WHERE key = ${"user:alice"}`);
      expect([...rows]).toEqual([{ count: 10 }]);
    } finally {
      for (const s of stores) await s.close();
      await fresh.drop();
    }
  });
});

test("a server whose stop fails part-way still stops its other loops and closes its store", async () => {
  const server = await startTestServer();
  server.live.dispatcher.stop = () => Promise.reject(new Error("the dispatcher would not stop"));
  const pushStop = server.live.push.stop.bind(server.live.push);
  let pushStopped = false;
  server.live.push.stop = async () => {
    pushStopped = true;
    await pushStop();
  };
  await expect(server.stop()).rejects.toThrow("the dispatcher would not stop");
  expect(pushStopped).toBe(true); // a loop left running would query the closed store every few seconds
  if (TEST_BACKEND === "pg") await expect(asPg(server.ctx.db).$client`SELECT 1`.execute()).rejects.toThrow(/closed/i);
  else expect(() => server.ctx.db.$client.query("SELECT 1").get()).toThrow(/closed/i);
});

describe("--database", () => {
  const cfg = (argv: string[], env: Record<string, string> = {}) => {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      return serveConfig(["--data", "/tmp/x", ...argv]) as Config;
    } finally {
      process.env = saved;
    }
  };

  test("--database URL and NOD_DATABASE_URL name a PostgreSQL database; without them the store is SQLite (null)", () => {
    expect(cfg([]).databaseUrl).toBeNull();
    expect(cfg(["--database", "postgres://nod@db:5432/nod"]).databaseUrl).toBe("postgres://nod@db:5432/nod");
    expect(cfg([], { NOD_DATABASE_URL: "postgresql://nod@db/nod" }).databaseUrl).toBe("postgresql://nod@db/nod");
    expect(cfg(["--database", "postgres://a@flag/nod"], { NOD_DATABASE_URL: "postgres://a@env/nod" }).databaseUrl).toBe("postgres://a@flag/nod");
  });

  test("anything but a postgres:// or postgresql:// URL is refused, naming --database and never the password", () => {
    for (const bad of ["mysql://nod:hunter2@db/nod", "nod.db", "postgres://nod:hunter2@[bad/nod"]) {
      let error: unknown;
      try {
        cfg(["--database", bad]);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(UsageError);
      expect((error as Error).message).toStartWith("--database: a postgres:// or postgresql:// URL");
      expect((error as Error).message).not.toContain("hunter2");
    }
  });

  test("the start line names the database by host and name; the password is in no line, even when the database cannot be reached", async () => {
    // Port 1 on loopback: nothing listens, so nod stops right after its start line.
    const run = spawnNod(["serve", "--port", "0", "--data", tempDir(), "--database", "postgres://nod:hunter2@127.0.0.1:1/nod?password=hunter2"]);
    const { exitCode, stdout, stderr } = await run.done;
    expect(exitCode).toBe(1);
    const start = stderr.split("\n").find((l) => l.includes(" starting "));
    expect(start).toContain(" database=postgres://127.0.0.1:1/nod ");
    expect(stderr).toContain("nod serve: cannot open postgres://127.0.0.1:1/nod: ");
    expect(stdout + stderr).not.toContain("hunter2");
  });

  test("nod serve --help lists --database and NOD_DATABASE_URL", async () => {
    const run = spawnNod(["serve", "--help"]);
    const { stdout } = await run.done;
    expect(stdout).toContain("--database URL");
    expect(stdout).toContain("NOD_DATABASE_URL");
  });
});
