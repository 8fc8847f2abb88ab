// What any nod instance must see the same: the sign-in limits live in the
// database, so a restart does not reset them and servers sharing a database
// count together; each instance has a name (logs, /metrics); /healthz says
// whether the database answers.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { SQL } from "bun";
import { copyFileSync, renameSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { eventually, expectLimited, owner, postFrom, request, startTestServer, tempDir, TEST_BACKEND } from "./helpers.ts";
import { runNod, spawnNod } from "./cli-util.ts";
import { describeSqlite, PG_URL } from "./pg-helpers.ts";
import { authLimits } from "../server/db/tables.ts";

// Each sign-in attempt hashes a password (argon2id): about 0.12 s of CPU, ten
// times that on a busy machine. A hang guard, not a time check.
setDefaultTimeout(60_000);

const GOOD = { username: "alice", password: "correct horse battery" };
const WRONG = { username: "alice", password: "wrong password" };
const login = (url: string, from: string, body: { username: string; password: string }) => postFrom(url, from, "/api/auth/login", body);
const setup = (url: string, from: string, body: { username: string; password: string }) => postFrom(url, from, "/api/auth/setup", body);

describe("sign-in limits survive a restart", async () => {
  let server = await startTestServer();
  await owner(server);

  test("failures before the restart still count after it; an address alice signed in from before still gets in", async () => {
    expect((await login(server.url, "127.0.0.2", GOOD)).status).toBe(200); // alice's usual address
    for (let i = 0; i < 9; i++) expect((await login(server.url, "127.0.0.9", WRONG)).status).toBe(401);
    server = await server.restart();
    // the 10th failure is the last one checked, for the address and for alice
    expect((await login(server.url, "127.0.0.9", WRONG)).status).toBe(401);
    expectLimited(await login(server.url, "127.0.0.9", GOOD));
    // alice is under attack now: a new address is refused after its one guess…
    expect((await login(server.url, "127.0.0.3", WRONG)).status).toBe(401);
    expectLimited(await login(server.url, "127.0.0.3", GOOD));
    // …while the address she signed in from before the restart still gets in
    expect((await login(server.url, "127.0.0.2", GOOD)).status).toBe(200);
  });
});

test("setup attempts counted before a restart still count after it", async () => {
  let server = await startTestServer();
  const bad = { username: "alice", password: "short" };
  for (let i = 0; i < 6; i++) expect((await setup(server.url, "127.0.0.7", bad)).status).toBe(400);
  server = await server.restart();
  for (let i = 0; i < 4; i++) expect((await setup(server.url, "127.0.0.7", bad)).status).toBe(400);
  expectLimited(await setup(server.url, "127.0.0.7", GOOD));
});

test("two servers on one database count together: failures on one are refused by the other", async () => {
  const first = await startTestServer();
  await owner(first);
  const second = await startTestServer({}, first.dataDir);
  for (let i = 0; i < 5; i++) expect((await login(first.url, "127.0.0.9", WRONG)).status).toBe(401);
  for (let i = 0; i < 5; i++) expect((await login(second.url, "127.0.0.9", WRONG)).status).toBe(401);
  expectLimited(await login(first.url, "127.0.0.9", WRONG));
  expectLimited(await login(second.url, "127.0.0.9", GOOD));
  expect((await login(second.url, "127.0.0.2", GOOD)).status).toBe(200);
});

test("a window ends after 15 minutes: the address may try again, and the ended windows are deleted", async () => {
  let shift = 0;
  const server = await startTestServer({ now: () => Date.now() + shift });
  await owner(server);
  for (let i = 0; i < 10; i++) expect((await login(server.url, "127.0.0.9", WRONG)).status).toBe(401);
  expectLimited(await login(server.url, "127.0.0.9", GOOD));
  const rows = async () => (await server.ctx.db.select({ key: authLimits.key }).from(authLimits).orderBy(authLimits.key)).map((r) => r.key);
  expect(await rows()).toEqual(["ip:127.0.0.9", "pair:alice\n127.0.0.9", "user:alice"]);
  shift = 15 * 60_000 + 1000;
  const ok = await login(server.url, "127.0.0.9", GOOD);
  expect(ok.status).toBe(200);
  // what the old window counted is gone; the right password took back its own attempt
  expect(await rows()).toEqual([]);
});

describe("the instance's name", () => {
  /** Starts `nod serve` with the given flags and env, asks /healthz and /metrics, stops it; returns its log and metrics. */
  async function serveOnce(args: string[], env: Record<string, string> = {}) {
    const run = spawnNod(["serve", "--port", "0", "--host", "127.0.0.1", "--data", tempDir(), "--log-level", "debug", "--metrics-token", "t0k", ...args], { env });
    try {
      const url = (await run.waitForOutput(/listening on (http:\/\/\S+:\d+)/))[1]!;
      expect((await request(url, "GET", "/healthz")).status).toBe(200);
      const metrics = await (await fetch(`${url}/metrics`, { headers: { authorization: "Bearer t0k" } })).text();
      run.proc.kill("SIGTERM");
      const { exitCode, stderr } = await run.done;
      expect(exitCode).toBe(0);
      return { log: stderr.split("\n").filter(Boolean), metrics };
    } finally {
      run.proc.kill();
    }
  }

  test("--instance NAME: in the start line, at the end of every log line, and in /metrics", async () => {
    const { log, metrics } = await serveOnce(["--instance", "web-2"]);
    expect(log.find((l) => l.includes(" starting "))).toContain(" instance=web-2");
    expect(log.find((l) => l.includes(" DEBUG request ") && l.includes("path=/healthz"))).toEndWith(" instance=web-2");
    for (const line of log) expect(line).toEndWith(" instance=web-2");
    expect(log.filter((l) => l.includes("instance=")).every((l) => l.split("instance=").length === 2)).toBe(true); // named once per line
    expect(metrics).toContain('\nnod_instance_info{name="web-2"} 1\n');
  });

  test("NOD_INSTANCE names it too", async () => {
    const { log, metrics } = await serveOnce([], { NOD_INSTANCE: "web-3" });
    expect(log.find((l) => l.includes(" starting "))).toContain(" instance=web-3");
    expect(metrics).toContain('nod_instance_info{name="web-3"} 1');
  });

  test("unnamed: the host name, in the start line and /metrics; the other lines are as they were", async () => {
    const { log, metrics } = await serveOnce([]);
    expect(log.find((l) => l.includes(" starting "))).toContain(` instance=${hostname()}`);
    expect(log.find((l) => l.includes(" DEBUG request ") && l.includes("path=/healthz"))).not.toContain("instance=");
    expect(metrics).toContain(`nod_instance_info{name="${hostname()}"} 1`);
  });

  test("a name that would not read plainly in a log line or a label is refused", async () => {
    for (const bad of ["web 2", 'we"b', "-web", ""]) {
      const r = await runNod(["serve", "--instance", bad, "--data", tempDir()]);
      expect({ bad, exitCode: r.exitCode }).toEqual({ bad, exitCode: 2 });
      expect(r.stderr).toContain("--instance");
    }
  });

  test("nod serve --help lists --instance and NOD_INSTANCE", async () => {
    const r = await runNod(["serve", "--help"]);
    expect(r.stdout).toContain("--instance NAME");
    expect(r.stdout).toContain("NOD_INSTANCE");
  });
});

const health = async (url: string) => {
  const r = await request(url, "GET", "/healthz");
  return { status: r.status, body: r.body };
};

describeSqlite("/healthz reports the database", () => {

  test("nod.db moved away under the running server: 503 saying so; moved back: 200 again", async () => {
    const server = await startTestServer();
    expect(await health(server.url)).toEqual({ status: 200, body: { status: "ok" } });
    const file = path.join(server.dataDir, "nod.db");
    renameSync(file, `${file}.moved`);
    const gone = await health(server.url);
    expect(gone.status).toBe(503);
    expect(gone.body.detail).toBe(`database: ${file} is gone: what nod writes now is lost when it restarts`);
    renameSync(`${file}.moved`, file);
    expect(await health(server.url)).toEqual({ status: 200, body: { status: "ok" } });
  });

  test("nod.db replaced by another file (a restore while nod ran): 503", async () => {
    const server = await startTestServer();
    const file = path.join(server.dataDir, "nod.db");
    copyFileSync(file, `${file}.copy`);
    renameSync(`${file}.copy`, file);
    const replaced = await health(server.url);
    expect(replaced.status).toBe(503);
    expect(replaced.body.detail).toContain("was replaced while nod ran");
  });

  test("a database the server can no longer read (its connection closed): 503 with the reason", async () => {
    const server = await startTestServer();
    server.ctx.db.$client.close();
    const closed = await health(server.url);
    expect(closed.status).toBe(503);
    expect(closed.body.detail).toMatch(/^database: cannot read nod\.db: .*closed/);
  });
});

// The same on PostgreSQL, where the servers run on it (NOD_TEST_BACKEND=pg): one dialect per process.
(TEST_BACKEND === "pg" ? describe : describe.skip)("/healthz reports a PostgreSQL database", () => {
  test("a database that refuses nod (its connections cut, new ones not allowed): 503 saying why; allowed again: 200 again", async () => {
    const server = await startTestServer();
    const name = new URL(server.ctx.config.databaseUrl!).pathname.slice(1);
    const admin = new SQL(PG_URL!, { max: 1 });
    try {
      expect(await health(server.url)).toEqual({ status: 200, body: { status: "ok" } });
      await admin.unsafe(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      await admin.unsafe(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}'`);
      // pg_terminate_backend only signals: wait until the server's connections are gone
      const connections = async () => ((await admin.unsafe(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = '${name}'`)) as { n: number }[])[0]!.n;
      await eventually(async () => (await connections()) === 0, undefined, "nod's connections closed");
      const refused = await health(server.url);
      expect(refused.status).toBe(503);
      expect(refused.body.detail).toBe(`database: cannot query PostgreSQL: database "${name}" is not currently accepting connections`);
      await admin.unsafe(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      expect(await health(server.url)).toEqual({ status: 200, body: { status: "ok" } });
    } finally {
      await admin.unsafe(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      await admin.close();
    }
  });

  test("a database the server can no longer use (its pool closed): 503 with the reason", async () => {
    const server = await startTestServer();
    await (server.ctx.db.$client as unknown as SQL).close();
    const closed = await health(server.url);
    expect(closed.status).toBe(503);
    expect(closed.body.detail).toMatch(/^database: cannot query PostgreSQL: .*closed/);
  });
});
