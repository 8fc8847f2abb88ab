// nod on PostgreSQL: `nod migrate --from-sqlite` copies a SQLite nod that a
// real server filled through its API (rows in every table, an image in
// DATA/media) into a fresh database, row by row and byte for byte; a second
// copy into it is refused; `nod migrate --database` migrates once when two
// run at once; images live in the media table (MediaStore) and are served as
// on SQLite; `nod backup --database` prints pg_dump's command line.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { Database } from "bun:sqlite";
import { SQL } from "bun";
import { copyFileSync, existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Elysia } from "elysia";
import { eq, getTableName, is } from "drizzle-orm";
import { drizzle as sqliteDrizzle } from "drizzle-orm/bun-sqlite";
import { drizzle as pgDrizzle } from "drizzle-orm/bun-sql";
import { SQLiteTable } from "drizzle-orm/sqlite-core";
import type { PgTable } from "drizzle-orm/pg-core";
import * as sqliteSchema from "../server/db/schema.ts";
import * as pgSchema from "../server/db/schema-pg.ts";
import { DB_FILE } from "../server/db/index.ts";
import { migratePg } from "../server/db/pg-migrate.ts";
import { useDialect } from "../server/db/tables.ts";
import { makeConfig } from "../server/config.ts";
import type { Ctx } from "../server/context.ts";
import { httpBasics } from "../server/http.ts";
import { Logger } from "../server/lib/log.ts";
import { mediaRoutes } from "../server/media/public.ts";
import { storeImage } from "../server/media/service.ts";
import { AgentClient, Person, PNG_1x1, eventually, owner, startTestServer, tempDir, writeDb } from "./helpers.ts";
import { runNod } from "./cli-util.ts";
import { standInPushService } from "./push-service.ts";
import { describePg, freshDatabase } from "./pg-helpers.ts";

setDefaultTimeout(60_000); // a hang guard (a server, subprocesses, databases), never a time check

type Row = Record<string, unknown>;
const sqliteTables = Object.entries(sqliteSchema).filter(([, t]) => is(t, SQLiteTable)) as [string, SQLiteTable][];
const pgTableOf = (key: string) => (pgSchema as unknown as Record<string, PgTable>)[key]!;

/** A table's rows in one order whatever the database returned them in. */
const sorted = (rows: Row[]) => rows.map((r) => [JSON.stringify(r), r] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);

/** A SQLite nod filled through its API: every table but media (SQLite keeps images as files) has rows. */
async function filledSqliteNod() {
  // SQLite whatever NOD_TEST_BACKEND says: the copy's source (no PostgreSQL store is open meanwhile, one dialect per process).
  const server = await startTestServer({ pushRetryBaseMs: 20, databaseUrl: null });
  const alice = await owner(server);
  expect((await new Person(server.url).post("/api/auth/login", { username: "alice", password: "wrong" })).status).toBe(401); // auth_limits
  expect((await new Person(server.url).post("/api/auth/login", { username: "alice", password: "correct horse battery" })).status).toBe(200); // auth_known_addresses
  const key = (await alice.get("/api/push/key")).body.public_key as string; // server_settings
  const push = await standInPushService(() => key);
  afterAll(() => push.stop());
  expect((await alice.post("/api/push/subscriptions", { ...push.device("phone"), name: "Phone" })).status).toBe(201);

  const created = await alice.createAgent({ name: "Builder", avatar: "🛠" });
  const approver = await alice.createAgent({ name: "Gate", type: "approval_only" });
  expect((await alice.call("PUT", "/api/push/settings", { messages: true, failed_runs: false, muted_agents: [approver.id] })).status).toBe(200);
  const agent = new AgentClient(server.url, created.id, created.secret);
  const gate = new AgentClient(server.url, approver.id, approver.secret);

  const ok = async (p: Promise<{ status: number; body: any }>) => {
    const r = await p;
    if (r.status >= 300) throw new Error(`${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  await ok(agent.event({ type: "message", text: "a picture", image_base64: PNG_1x1 }));
  const nul = await ok(agent.event({ type: "message", text: "with a NUL inside", report_title: "Report", report_description: "three findings" }));
  // The API refuses U+0000 now; a nod from before that stored it as sent.
  await writeDb(server.ctx).update(sqliteSchema.messages).set({ text: "with a NUL\u0000inside" }).where(eq(sqliteSchema.messages.id, nul.message_id));
  await ok(alice.post(`/api/agents/${created.id}/messages`, { text: "thanks" })); // outbox: user_message
  await ok(agent.event({ type: "alert", title: "Deployed", text: "v1.2" }));
  const approval = await ok(agent.event({ type: "decision", kind: "approval", title: "Deploy?", description: "to production", expires_in: 86_400 }));
  const choice = await ok(agent.event({ type: "decision", kind: "choice", title: "Database?", description: "for the project", options: ["PostgreSQL", "SQLite"] }));
  await ok(agent.event({ type: "decision", kind: "question", title: "Name?", description: "" }));
  const permission = await ok(
    gate.event({
      type: "decision",
      kind: "permission",
      title: "Allow: Bash(npm install stripe)",
      description: "The agent wants to run this command.",
      allows_always: true,
      always_allow_label: "npm installs",
      always_allow_options: [
        { pattern: "Bash(npm install *)", label: "All npm installs" },
        { pattern: "Bash(npm install stripe)", label: "This command" },
      ],
    }),
  );
  const proposal = await ok(
    agent.event({ type: "task_proposal", title: "Schedule: summary", task_name: "Summary", task_prompt: "Summarize", task_schedule: "0 9 * * 1-5", timezone: "Europe/Paris" }),
  );
  const cancelled = await ok(agent.event({ type: "decision", kind: "approval", title: "Withdrawn", description: "" }));
  await ok(alice.post(`/api/decisions/${approval.decision_id}/respond`, { status: "approved", note: "go" }));
  await ok(alice.post(`/api/decisions/${choice.decision_id}/respond`, { status: "responded", note: "PostgreSQL" }));
  await ok(alice.post(`/api/decisions/${permission.decision_id}/respond`, { status: "approved", always_allow: true, always_allow_pattern: "Bash(npm install *)" }));
  await ok(alice.post(`/api/decisions/${proposal.decision_id}/respond`, { status: "approved" }));
  await ok(agent.post(`/api/agent/decisions/${cancelled.decision_id}/cancel`));

  const once = await ok(agent.post("/api/agent/tasks", { name: "Once now", prompt: "Say hello.", schedule: "once" }));
  const event = await ok(agent.post("/api/agent/tasks", { name: "On push", prompt: "Look at it.", schedule: "event" }));
  await ok(agent.post("/api/agent/tasks", { name: "Nightly", prompt: "p", schedule: "0 3 * * *", timezone: "Asia/Tokyo" }));
  await ok(new Person(server.url).post(`/webhook/${event.trigger_id}`, { ref: "main", commits: [{ id: "abc", ok: true }], n: null }));
  const due = await eventually(async () => (await agent.get("/api/agent/tasks/due")).body.find((d: any) => d.id === once.id));
  await ok(agent.post(`/api/agent/tasks/runs/${due.run_id}/context`, { text: "fetched the goals" }));
  await ok(agent.post(`/api/agent/tasks/runs/${due.run_id}/context`, { text: "picked one" }));
  const started = await ok(agent.post(`/api/agent/tasks/${event.id}/run/start`));
  await ok(agent.post(`/api/agent/tasks/runs/${started.run_id}/complete`, { status: "failed", summary: "no access" }));
  // A request's push notice: sent, and kept as the marker its answer is told through.
  await eventually(() => push.received.length > 0, undefined, "a push");

  await server.stop();
  return { dir: server.dataDir, file: path.join(server.dataDir, DB_FILE) };
}

describePg("nod migrate --from-sqlite", async () => {
  // Filled while the tests are collected, as the other server tests do: helpers register their clean-up with afterAll.
  const source = await filledSqliteNod();
  const target = await freshDatabase();
  const client = new SQL(target.url, { max: 2 });
  let migrated: Awaited<ReturnType<typeof runNod>>;
  beforeAll(async () => {
    migrated = await runNod(["migrate", "--from-sqlite", source.file, "--database", target.url]);
  });
  afterAll(async () => {
    await client.close();
    await target.drop();
  });

  test("every table is copied row by row (booleans and JSON as PostgreSQL's own types), and prints its counts", async () => {
    expect(migrated.stderr).toBe("");
    expect(migrated.exitCode).toBe(0);
    const src = new Database(source.file, { readonly: true });
    const lite = sqliteDrizzle({ client: src });
    const pg = pgDrizzle({ client });
    try {
      for (const [key, table] of sqliteTables) {
        const name = getTableName(table);
        const from = lite.select().from(table).all() as Row[];
        if (name === "media") continue; // SQLite's images are files (next test)
        expect(from.length, `${name} has rows in the source`).toBeGreaterThan(0);
        // PostgreSQL's text cannot hold U+0000: the copy writes U+FFFD instead.
        const expected = from.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === "string" ? v.replaceAll("\0", "\uFFFD") : v])));
        const copied = (await pg.select().from(pgTableOf(key))) as Row[];
        expect(sorted(copied), name).toEqual(sorted(expected));
        expect(migrated.stdout).toMatch(new RegExp(`^  ${name} +${from.length}$`, "m"));
      }
      // JSON stored as JSON values, booleans as booleans: readable by SQL, not only by drizzle.
      const [d] = await client`SELECT json_typeof(options) AS options, allows_always FROM decisions WHERE kind = 'choice'`;
      expect(d).toEqual({ options: "array", allows_always: false });
      const [s] = await client`SELECT json_typeof(muted_agents) AS muted, messages, failed_runs FROM push_settings`;
      expect(s).toEqual({ muted: "array", messages: true, failed_runs: false });
    } finally {
      src.close();
    }
    expect(migrated.stdout).toContain("messages: 1 value held NUL characters");
  });

  test("the images of DATA/media are in the media table, byte for byte", async () => {
    const files = readdirSync(path.join(source.dir, "media"));
    expect(files).toHaveLength(1);
    const rows: { name: string; mime: string; bytes: Buffer }[] = await client`SELECT name, mime, bytes FROM media`;
    expect(rows.map((r) => ({ name: r.name, mime: r.mime }))).toEqual([{ name: files[0]!, mime: "image/png" }]);
    expect(Buffer.from(rows[0]!.bytes).equals(readFileSync(path.join(source.dir, "media", files[0]!)))).toBe(true);
    expect(Buffer.from(rows[0]!.bytes).equals(Buffer.from(PNG_1x1, "base64"))).toBe(true);
    expect(migrated.stdout).toMatch(/^  images +1 /m);
  });

  test("push_queue's identity numbers new rows after the copied ids", async () => {
    const [{ max }] = await client`SELECT max(id)::int AS max FROM push_queue`;
    const [{ next }] = await client`SELECT nextval(pg_get_serial_sequence('push_queue', 'id'))::int AS next`;
    expect(next).toBe(max + 1);
  });

  test("a second copy into the same database is refused (exit 1) and changes nothing", async () => {
    const [before] = await client`SELECT (SELECT count(*) FROM messages)::int AS messages, (SELECT count(*) FROM users)::int AS users`;
    const again = await runNod(["migrate", "--from-sqlite", source.file, "--database", target.url]);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain("the target already holds nod's data (1 people, 2 agents)");
    expect(again.stdout).toBe("");
    const [after] = await client`SELECT (SELECT count(*) FROM messages)::int AS messages, (SELECT count(*) FROM users)::int AS users`;
    expect(after).toEqual(before);
  });

  test("a source at an older schema is refused, and told how to upgrade it", async () => {
    const dir = tempDir();
    copyFileSync(source.file, path.join(dir, DB_FILE));
    const old = new Database(path.join(dir, DB_FILE));
    old.run("DELETE FROM __drizzle_migrations WHERE created_at = (SELECT max(created_at) FROM __drizzle_migrations)"); // as if 0001 were not applied
    old.close();
    const fresh = await freshDatabase();
    try {
      const r = await runNod(["migrate", "--from-sqlite", dir, "--database", fresh.url]);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`is at an older schema: upgrade it first with this nod (nod migrate --data ${dir})`);
      // Refused before the target was touched: not even its migrations ran.
      const db = new SQL(fresh.url, { max: 1 });
      expect((await db`SELECT to_regclass('users') IS NULL AS untouched`)[0].untouched).toBe(true);
      await db.close();
    } finally {
      await fresh.drop();
    }
  });

  test("bad usage exits 2 without echoing the URL", async () => {
    const noDb = await runNod(["migrate", "--from-sqlite", source.file]);
    expect(noDb.exitCode).toBe(2);
    expect(noDb.stderr).toContain("--from-sqlite needs --database URL");
    const bad = await runNod(["migrate", "--database", "mysql://root:hunter2@db/nod"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).not.toContain("hunter2");
  });
});

describePg("nod migrate --from-sqlite: one transaction", () => {
  /** A small SQLite nod: one person and a server setting, plus whatever more() inserts (foreign keys unchecked). */
  async function smallNod(more = "") {
    const dir = tempDir();
    expect((await runNod(["migrate", "--data", dir])).exitCode).toBe(0);
    const db = new Database(path.join(dir, DB_FILE));
    db.run("PRAGMA foreign_keys = OFF");
    db.run("INSERT INTO users VALUES ('usr_1', 'bob', 'argon-hash-of-bob', '2026-01-01T00:00:00Z')");
    db.run("INSERT INTO server_settings VALUES ('vapid', 'from the source', '2026-01-01T00:00:00Z')");
    if (more) db.run(more);
    db.close();
    return dir;
  }

  test("a copy that fails writes no rows and names the table; a target with no people or agents has its leftovers replaced", async () => {
    const fresh = await freshDatabase();
    const db = new SQL(fresh.url, { max: 1 });
    try {
      // What a first start on the database left: its own push key and a sign-in limit.
      await migratePg(db);
      await db`INSERT INTO server_settings VALUES ('vapid', 'from a first start', '2026-02-01T00:00:00Z')`;
      await db`INSERT INTO auth_limits VALUES ('ip:10.0.0.1', 1, '2026-02-01T00:15:00Z')`;

      const broken = await smallNod("INSERT INTO sessions VALUES ('tokenhash', 'usr_gone', '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z')");
      const failed = await runNod(["migrate", "--from-sqlite", broken, "--database", fresh.url]);
      expect(failed.exitCode).toBe(1);
      expect(failed.stderr).toContain("the copy failed and no rows were written: copying sessions:");
      expect(failed.stderr).toContain("foreign key");
      expect(failed.stderr).not.toContain("argon-hash-of-bob"); // no statement parameters in the message
      expect(await db`SELECT key, value FROM server_settings`).toEqual([{ key: "vapid", value: "from a first start" }]);
      expect((await db`SELECT count(*)::int AS n FROM users`)[0].n).toBe(0);

      const ok = await runNod(["migrate", "--from-sqlite", await smallNod(), "--database", fresh.url]);
      expect(ok.exitCode).toBe(0);
      expect(ok.stdout).toContain("The target's 2 rows from a start with no people or agents (its push key, sign-in limits) were replaced.");
      expect(await db`SELECT key, value FROM server_settings`).toEqual([{ key: "vapid", value: "from the source" }]);
      expect(await db`SELECT key FROM auth_limits`).toEqual([]);
      expect(await db`SELECT username FROM users`).toEqual([{ username: "bob" }]);
    } finally {
      await db.close();
      await fresh.drop();
    }
  });
});

describePg("nod migrate --database", () => {
  test("two at once on a fresh database: one applies the migrations, the other waits and finds nothing to do", async () => {
    const fresh = await freshDatabase();
    try {
      const runs = await Promise.all([1, 2].map(() => runNod(["migrate"], { env: { NOD_DATABASE_URL: fresh.url } })));
      expect(runs.map((r) => [r.exitCode, r.stderr])).toEqual([
        [0, ""],
        [0, ""],
      ]);
      const lines = runs.map((r) => r.stdout.replace(/^postgres:\/\/[^:]+:\d+\/\w+: /, "")).sort();
      expect(lines).toEqual(["already up to date (1 in all)\n", "applied 1 migration (1 in all)\n"]);
    } finally {
      await fresh.drop();
    }
  });
});

describePg("images on PostgreSQL (MediaStore)", () => {
  let target: Awaited<ReturnType<typeof freshDatabase>>;
  let client: SQL;
  beforeAll(async () => {
    target = await freshDatabase();
    client = new SQL(target.url, { max: 2 });
    await migratePg(client);
    useDialect("pg");
  });
  afterAll(async () => {
    useDialect("sqlite");
    await client?.close();
    await target?.drop();
  });

  test("an image is stored in the media table, served with the same headers as on SQLite, and an unknown name is 404", async () => {
    const db = pgDrizzle({ client, schema: pgSchema });
    const dataDir = tempDir();
    // The PostgreSQL store's writer is built on another branch: a unit of work here is one transaction.
    const writer = { now: (fn: (uow: { db: unknown }) => Promise<unknown>) => db.transaction((tx) => fn({ db: tx })) };
    const ctx = { config: makeConfig({ dataDir, publicUrl: "https://nod.example.com" }), db, writer, log: new Logger("error"), now: () => Date.now() } as unknown as Ctx;
    const url = await storeImage(ctx, `data:image/png;base64,${PNG_1x1}`);
    expect(url).toMatch(/^https:\/\/nod\.example\.com\/media\/[0-9a-f]{32}\.png$/);
    const name = url.slice(url.lastIndexOf("/") + 1);
    expect(existsSync(path.join(dataDir, "media"))).toBe(false); // no file: instances share no disk
    const [row] = await client`SELECT mime, octet_length(bytes)::int AS size FROM media WHERE name = ${name}`;
    expect(row).toEqual({ mime: "image/png", size: Buffer.from(PNG_1x1, "base64").length });

    const app = new Elysia().use(httpBasics(ctx)).use(mediaRoutes(ctx));
    const res = await app.handle(new Request(`http://localhost/media/${name}`));
    expect(res.status).toBe(200);
    expect(Object.fromEntries(["content-type", "cache-control", "x-content-type-options", "content-security-policy"].map((h) => [h, res.headers.get(h)]))).toEqual({
      "content-type": "image/png",
      "cache-control": "public, max-age=31536000, immutable",
      "x-content-type-options": "nosniff",
      "content-security-policy": "default-src 'none'; sandbox",
    });
    expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(PNG_1x1, "base64"))).toBe(true);
    const missing = await app.handle(new Request(`http://localhost/media/${"0".repeat(32)}.png`));
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ detail: "file not found" });
    expect((await app.handle(new Request("http://localhost/media/..%2fnod.db"))).status).toBe(404);
    // Not an image: refused before anything is stored.
    await expect(storeImage(ctx, Buffer.from("<svg/>").toString("base64"))).rejects.toMatchObject({ status: 400 });
    expect((await client`SELECT count(*)::int AS n FROM media`)[0].n).toBe(1);
  });
});

test("nod backup --database prints pg_dump's command line with the host and database, never the password", async () => {
  const r = await runNod(["backup", "nod.dump", "--database", "postgres://nod:hunter2@db.example.com:5433/nod_prod?sslmode=require&password=hunter3"]);
  expect(r.exitCode).toBe(0);
  expect(r.stdout).toContain("the database nod_prod at db.example.com:5433");
  expect(r.stdout).toContain("pg_dump --format=custom --file='nod.dump' 'postgres://nod@db.example.com:5433/nod_prod?sslmode=require'");
  expect(r.stdout).toContain("pg_restore --no-owner --dbname='postgres://nod@db.example.com:5433/NEW_DATABASE?sslmode=require' 'nod.dump'");
  expect(r.stdout + r.stderr).not.toContain("hunter");
  expect((await runNod(["backup", "--database", "postgres://a:b@h/d", "--data", "x"])).exitCode).toBe(2);
});
