// The one-file binary: built once per test run (bun run build), copied into an
// empty directory and run from there, with nothing beside it.
import { beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { copyFileSync, existsSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { AgentClient, owner, request, tempDir } from "./helpers.ts";
import { spawnNod, type NodProcess } from "./cli-util.ts";

// This file builds and runs the compiled binary: a busy machine needs more than bun's default 5 s per test (a hang guard, not a time check).
setDefaultTimeout(60_000);

const ROOT = path.resolve(import.meta.dir, "..");

describe("the compiled binary", () => {
  const buildDir = tempDir("nod-build-");
  const runDir = tempDir("nod-run-"); // empty: only the binary is copied in
  const bin = path.join(runDir, "nod");
  let server: NodProcess;
  let url: string;
  let readyMs: number;

  beforeAll(async () => {
    const build = Bun.spawnSync([process.execPath, "run", "build", "--outfile", path.join(buildDir, "nod")], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    if (build.exitCode !== 0) throw new Error(`bun run build failed: ${build.stdout}${build.stderr}`);
    copyFileSync(path.join(buildDir, "nod"), bin);
    Bun.spawnSync(["chmod", "+x", bin]);
    const t0 = performance.now();
    server = spawnNod(["serve", "--port", "0", "--host", "127.0.0.1", "--data", "./data"], { bin, cwd: runDir });
    url = (await server.waitForOutput(/listening on (http:\/\/\S+:\d+)/))[1]!;
    readyMs = performance.now() - t0;
    const size = statSync(bin).size;
    console.log(`binary: ${(size / 1024 / 1024).toFixed(1)} MiB (${size} bytes), start to ready ${readyMs.toFixed(0)} ms`);
  }, 60_000);

  test("version carries the build's commit", async () => {
    const v = await spawnNod(["version"], { bin, cwd: runDir }).done;
    expect(v.exitCode).toBe(0);
    expect(v.stdout).toMatch(/^nod \d+\.\d+\.\d+ \((?!dev\))[0-9a-z]+\)\n$/);
  });

  test("/app and its JS and CSS load", async () => {
    const page = await fetch(url + "/app");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    const html = await page.text();
    const js = [...html.matchAll(/<script[^>]+src="([^"]+)"/g)].map((m) => m[1]!);
    const css = [...html.matchAll(/<link[^>]+href="([^"]+\.css)"/g)].map((m) => m[1]!);
    expect(js.length).toBeGreaterThan(0);
    for (const src of [...js, ...css]) {
      const res = await fetch(new URL(src, url + "/app"));
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(src.endsWith(".css") ? /text\/css/ : /javascript/);
      expect((await res.text()).length).toBeGreaterThan(100);
    }
  });

  test("the agent API answers, and the binary's own agent commands talk to it", async () => {
    const person = await owner({ url });
    const created = await person.createAgent({ name: "Binary Bot" });
    const agent = new AgentClient(url, created.id, created.secret);
    const r = await agent.event({ type: "message", text: "hello from curl" });
    expect(r.status).toBe(200);
    expect((await request(url, "GET", "/api/agent/decisions/dec_x", { headers: { "x-nod-agent-id": created.id, "x-nod-secret": "nod_wrong" } })).status).toBe(401);

    const env = { NOD_API_URL: url, NOD_AGENT_ID: created.id, NOD_SECRET: created.secret };
    const sent = await spawnNod(["send", "--json", "hello from nod send"], { bin, cwd: runDir, env }).done;
    expect(sent.exitCode).toBe(0);
    const msgs = await person.get(`/api/conversations/${JSON.parse(sent.stdout).conversation_id}/messages`);
    expect((msgs.body as any[]).map((m) => m.text)).toEqual(["hello from curl", "hello from nod send"]);
  });

  test("/docs/json is generated inside the binary too", async () => {
    const res = await request(url, "GET", "/docs/json");
    expect(res.status).toBe(200);
    expect(res.body.paths["/api/agent/events"].post).toBeDefined();
  });

  test("the database is created in --data, relative to where it runs", () => {
    expect(existsSync(path.join(runDir, "data", "nod.db"))).toBe(true);
  });

  test("SIGTERM stops it cleanly with exit 0", async () => {
    server.proc.kill("SIGTERM");
    const res = await server.done;
    expect(res.exitCode).toBe(0);
    expect(existsSync(path.join(runDir, "data", "nod.db-wal"))).toBe(false);
  });

  test("a .env or bunfig.toml in the working directory is not loaded", async () => {
    writeFileSync(path.join(runDir, ".env"), "NOD_LOG_LEVEL=bogus\nNOD_PORT=notaport\n");
    writeFileSync(path.join(runDir, "bunfig.toml"), 'preload = ["./missing.ts"]\n');
    const again = spawnNod(["serve", "--port", "0", "--host", "127.0.0.1", "--data", "./data"], { bin, cwd: runDir });
    await again.waitForOutput(/listening on http:\/\/\S+:\d+/);
    again.proc.kill("SIGTERM");
    expect((await again.done).exitCode).toBe(0);
  });
});
