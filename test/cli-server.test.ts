// The server-side commands, run as separate processes from the checkout:
// help and usage errors, version, serve (ready line, SIGTERM), user add,
// agent create, backup while the server writes, migrate.
import { describe, expect, test, setDefaultTimeout } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import path from "node:path";
import { AgentClient, Person, request, startTestServer, tempDir, TEST_BACKEND, withAgent } from "./helpers.ts";
import { runNod, spawnNod } from "./cli-util.ts";
import { describeSqlite } from "./pg-helpers.ts";

// This file runs the nod CLI as subprocesses: a busy machine needs more than bun's default 5 s per test (a hang guard, not a time check).
setDefaultTimeout(60_000);

describe("nod: help, usage and version", () => {
  test("--help lists every command; COMMAND --help shows its flags", async () => {
    const help = await runNod(["--help"]);
    expect(help.exitCode).toBe(0);
    for (const c of ["serve", "user add", "agent create", "backup", "migrate", "version", "send", "alert", "ask", "task-output", "claude-hook"])
      expect(help.stdout).toContain(c);
    const serve = await runNod(["serve", "--help"]);
    expect(serve.exitCode).toBe(0);
    for (const f of ["--port", "--host", "--data", "--public-url", "--log-level", "--metrics-token", "NOD_DATA_DIR"]) expect(serve.stdout).toContain(f);
    const ask = await runNod(["help", "ask"]);
    expect(ask.exitCode).toBe(0);
    expect(ask.stdout).toContain("--timeout");
  });

  test("an unknown command or flag is a clear message and exit 2", async () => {
    const cmd = await runNod(["frobnicate"]);
    expect(cmd.exitCode).toBe(2);
    expect(cmd.stderr).toContain("unknown command 'frobnicate'");
    const flag = await runNod(["serve", "--prot", "80"]);
    expect(flag.exitCode).toBe(2);
    expect(flag.stderr).toContain("unknown flag: --prot");
    expect((await runNod(["--bogus"])).exitCode).toBe(2);
    expect((await runNod([])).exitCode).toBe(2);
    expect((await runNod(["serve", "--port", "http"])).exitCode).toBe(2);
  });

  test("version prints nod <semver> (<commit>)", async () => {
    const v = await runNod(["version"]);
    expect(v.exitCode).toBe(0);
    expect(v.stdout).toMatch(/^nod \d+\.\d+\.\d+ \(dev\)\n$/); // a checkout; the binary has its commit
  });
});

describe("nod serve", () => {
  test("prints the ready line, serves, and exits 0 on SIGTERM", async () => {
    const data = path.join(tempDir(), "data");
    const run = spawnNod(["serve", "--port", "0", "--host", "127.0.0.1", "--data", data], { env: { NOD_LOG_LEVEL: "error" } });
    const url = (await run.waitForOutput(/listening on (http:\/\/\S+:\d+)/))[1]!;
    const health = await request(url, "GET", "/healthz");
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: "ok" });
    // The Docker HEALTHCHECK's command.
    expect((await runNod(["healthcheck", "--url", url + "/healthz"])).exitCode).toBe(0);
    expect((await runNod(["healthcheck"], { env: { NOD_PORT: url.split(":").pop()! } })).exitCode).toBe(0);
    run.proc.kill("SIGTERM");
    const res = await run.done;
    expect(res.exitCode).toBe(0);
    expect(existsSync(path.join(data, "nod.db"))).toBe(true);
    expect(existsSync(path.join(data, "nod.db-wal"))).toBe(false); // closed cleanly
    expect((await runNod(["healthcheck", "--url", url + "/healthz"])).exitCode).toBe(1);
  });

  test("a SIGTERM sent as soon as the ready line is read stops it cleanly (exit 0)", async () => {
    // Before the fix the ready line came before the signal handlers: about half
    // of these runs were killed (exit 143). Three runs make that all but certain.
    const data = path.join(tempDir(), "data");
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const run = spawnNod(["serve", "--port", "0", "--host", "127.0.0.1", "--data", data], { env: { NOD_LOG_LEVEL: "error" } });
      await run.waitForOutput(/listening on/);
      run.proc.kill("SIGTERM");
      codes.push((await run.done).exitCode);
    }
    expect(codes).toEqual([0, 0, 0]);
  });
});

/**
 * Where user add and agent create write, as flags and as environment. On
 * SQLite: the data directory, which the server opens afterwards. On PostgreSQL
 * (NOD_TEST_BACKEND=pg): the database of the server on that directory, started
 * first, as an operator's would be.
 */
async function storeOf(dir: string) {
  if (TEST_BACKEND === "sqlite") return { flags: ["--data", dir], env: { NOD_DATA_DIR: dir }, server: () => startTestServer({}, dir) };
  const server = await startTestServer({}, dir);
  const url = server.ctx.config.databaseUrl!;
  return { flags: ["--data", dir, "--database", url], env: { NOD_DATA_DIR: dir, NOD_DATABASE_URL: url }, server: async () => server };
}

describe("nod user add, agent create, migrate", () => {
  test("user add reads the password from stdin; the person can sign in", async () => {
    const dir = tempDir();
    const store = await storeOf(dir);
    const res = await runNod(["user", "add", "carol", ...store.flags], { stdin: "a long enough password\n" });
    expect(res.stderr).toBe("");
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toContain("carol");
    const again = await runNod(["user", "add", "carol", ...store.flags], { stdin: "a long enough password\n" });
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain("taken");
    const server = await store.server();
    const login = await new Person(server.url).post("/api/auth/login", { username: "carol", password: "a long enough password" });
    expect(login.status).toBe(200);
    await server.stop();
  });

  test("agent create prints an id and a secret that the agent API accepts", async () => {
    const dir = tempDir();
    const store = await storeOf(dir);
    const res = await runNod(["agent", "create", "Deploy Bot", "--type", "approval_only", ...store.flags]);
    expect(res.exitCode).toBe(0);
    const id = /NOD_AGENT_ID=(agt_[0-9a-f]{16})/.exec(res.stdout)?.[1];
    const secret = /NOD_SECRET=(nod_[0-9a-f]{40})/.exec(res.stdout)?.[1];
    expect(id).toBeDefined();
    expect(secret).toBeDefined();
    const json = await runNod(["agent", "create", "Hooked", "--webhook-url", "http://127.0.0.1:9/hook", "--json"], { env: store.env });
    expect(JSON.parse(json.stdout)).toMatchObject({ name: "Hooked", type: "interactive", webhook_url: "http://127.0.0.1:9/hook", webhook_secret: expect.stringMatching(/^whsec_/) });
    expect((await runNod(["agent", "create", "X", "--type", "robot", ...store.flags])).exitCode).toBe(2);
    expect((await runNod(["agent", "create", "X", "--webhook-url", "ftp://x", ...store.flags])).exitCode).toBe(1);
    expect((await runNod(["agent", "delete", "X", ...store.flags])).exitCode).toBe(2);

    const server = await store.server();
    const agent = new AgentClient(server.url, id!, secret!);
    const r = await agent.event({ type: "decision", kind: "approval", title: "Ship?", description: "" });
    expect(r.status).toBe(200);
    expect(r.body.decision_id).toMatch(/^dec_/);
    await server.stop();
  });

  test("user add and agent create take --database like serve: in their help; a URL that is not postgres:// is bad usage, not echoed", async () => {
    for (const cmd of [["user", "add"], ["agent", "create"]]) {
      const help = await runNod([...cmd, "--help"]);
      expect(help.stdout).toContain("--database URL");
      expect(help.stdout).toContain("NOD_DATABASE_URL");
      const bad = await runNod([...cmd, "x", "--database", "mysql://root:hunter2@127.0.0.1/nod"], { stdin: "a long enough password\n" });
      expect(bad.exitCode).toBe(2);
      expect(bad.stderr).toContain("--database: a postgres:// or postgresql:// URL");
      expect(bad.stderr).not.toContain("hunter2");
    }
  });

  test("migrate creates the database and is a no-op the second time", async () => {
    const dir = path.join(tempDir(), "fresh");
    const first = await runNod(["migrate", "--data", dir]);
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toMatch(/applied \d+ migration/);
    const second = await runNod(["migrate"], { env: { NOD_DATA_DIR: dir } });
    expect(second.stdout).toContain("already up to date");
  });
});

// nod backup copies SQLite's nod.db (VACUUM INTO): on PostgreSQL there is no nod.db to copy (backup --database: pg-migrate.test.ts).
describeSqlite("nod backup", () => {
  test("copies a consistent database while events are being written", async () => {
    const server = await startTestServer();
    const { agent } = await withAgent(server);
    const acked: string[] = [];
    let writing = true;
    let failures = 0;
    // Four writers, each sending messages one after another as fast as the server acknowledges them.
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; writing; i++) {
        const r = await agent.event({ type: "message", text: `writer ${w} message ${i}` });
        if (r.status === 200) acked.push(r.body.message_id);
        else failures++;
      }
    });
    while (acked.length < 200) await Bun.sleep(5);

    const before = [...acked]; // every event acknowledged before the backup starts
    const file = path.join(tempDir(), "nod-backup.db");
    const res = await runNod(["backup", file, "--data", server.dataDir]);
    const during = acked.length - before.length;
    writing = false;
    await Promise.all(writers);
    expect(res.stderr).toBe("");
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toContain("backed up");
    expect(failures).toBe(0);
    expect(during).toBeGreaterThan(0); // the server really was writing meanwhile

    const copy = new Database(file, { readonly: true });
    expect((copy.query("PRAGMA integrity_check").get() as any).integrity_check).toBe("ok");
    const ids = new Set((copy.query("SELECT id FROM messages").all() as { id: string }[]).map((r) => r.id));
    copy.close();
    const missing = before.filter((id) => !ids.has(id));
    expect(missing).toEqual([]);

    // Never over an existing file.
    const again = await runNod(["backup", file, "--data", server.dataDir]);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain("already exists");
    expect((await runNod(["backup", path.join(tempDir(), "x.db"), "--data", path.join(tempDir(), "none")])).exitCode).toBe(1);
    expect((await runNod(["backup"])).exitCode).toBe(2);
  });
});
