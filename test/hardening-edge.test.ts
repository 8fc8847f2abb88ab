// Hardening at the edges: the debug log survives every request, log lines never
// carry raw control characters, numeric query parameters are integers, JSON is
// nested at most 64 levels, data at rest is private to nod's user, and every
// refusal (even of a body over the server-wide limit) is {"detail"} JSON.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { makeConfig } from "../server/config.ts";
import { startServer } from "../server/app.ts";
import { Logger, type LogLevel } from "../server/lib/log.ts";
import { AgentClient, eventually, owner, PNG_1x1, request, tempDir, withAgent } from "./helpers.ts";
import { MAIN, runNod, spawnNod } from "./cli-util.ts";
import { connectAgent } from "./ws-helpers.ts";

/** An in-process server whose log lines (at `level`) are collected in `lines`. */
async function serverWithLog(level: LogLevel) {
  const lines: string[] = [];
  const config = makeConfig({ port: 0, host: "127.0.0.1", logLevel: level, dataDir: tempDir() });
  const nod = await startServer(config, { log: new Logger(level, (l) => void lines.push(l)) });
  afterAll(() => nod.stop());
  return { ...nod, lines };
}

describe("serve --log-level debug", () => {
  const asked = ["/healthz", "/api/auth/status", "/healthz", "/api/nothing-here", "/api/agents", "/healthz"];
  const expected = [200, 200, 200, 404, 401, 200];

  test("the server keeps answering 2xx and 4xx, and exits 0 when told to stop", async () => {
    const data = path.join(tempDir(), "data");
    const run = spawnNod(["serve", "--port", "0", "--host", "127.0.0.1", "--data", data, "--log-level", "debug"]);
    try {
      const url = (await run.waitForOutput(/listening on (http:\/\/\S+:\d+)/))[1]!;
      const statuses: number[] = [];
      for (const p of asked) statuses.push((await request(url, "GET", p)).status);
      expect(statuses).toEqual(expected);
      run.proc.kill("SIGTERM");
      const res = await run.done;
      expect(res.exitCode).toBe(0); // it ran until told to stop
      expect(res.stderr).not.toContain("TypeError");
      expect(res.stderr).toContain(" DEBUG request method=GET path=/healthz status=200");
    } finally {
      run.proc.kill();
    }
  });

  test("one debug line per request, with its method, path and status", async () => {
    const server = await serverWithLog("debug");
    for (const p of asked) await request(server.url, "GET", p + "?q=1");
    const requests = () => server.lines.filter((l) => / DEBUG request /.test(l));
    await eventually(() => requests().length >= asked.length, 5000, "a debug line per request");
    const logged = requests().map((l) => /method=(\S+) path=(\S+) status=(\d+)/.exec(l)!.slice(1));
    expect(logged).toEqual(asked.map((p, i) => ["GET", p, String(expected[i])]));
  });
});

describe("control characters in log lines", () => {
  const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

  test("every non-printable character in a field, a key or the message is escaped", () => {
    const lines: string[] = [];
    const log = new Logger("debug", (l) => void lines.push(l));
    const evil = "\x1b[2J\x07bell\x7f\x9b\u202eevil\u2066";
    log.warn("bad " + evil, { username: evil, plain: "\x1b]0;title\x07", list: [evil], ["k" + evil]: 1, error: new Error(evil) });
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line.endsWith("\n")).toBe(true);
    expect(line.slice(0, -1)).not.toMatch(/[\n\r]/);
    expect(line).not.toMatch(RAW);
    expect(line).toContain("\\u001b[2J\\u0007bell\\u007f\\u009b\\u202eevil\\u2066");
    expect(line).toContain("plain=\"\\u001b]0;title\\u0007\"");
  });

  test("a failed sign-in with escape sequences in the username logs them escaped", async () => {
    const server = await serverWithLog("warn");
    const res = await request(server.url, "POST", "/api/auth/login", { body: { username: "mallory\x1b[2J\x07\u202e", password: "wrong password" } });
    expect(res.status).toBe(401);
    const line = server.lines.find((l) => l.includes("failed sign-in"));
    expect(line).toBeDefined();
    expect(line).toContain("mallory\\u001b[2J\\u0007\\u202e");
    expect(line).not.toMatch(RAW);
  });
});

describe("numeric query parameters are integers", async () => {
  const server = await serverWithLog("error");
  const { person, created, agent } = await withAgent(server);
  const sent = await agent.event({ type: "message", text: "hello" });
  const decision = await agent.event({ type: "decision", kind: "question", title: "t", description: "d" });
  const task = await person.post(`/api/agents/${created.id}/tasks`, { name: "t", prompt: "p", schedule: "0 9 * * *" });

  test("every paged list answers 400 naming limit for 1.5, -1, abc and 1e3", async () => {
    expect(task.status).toBe(201);
    const lists = [
      "/api/activity",
      `/api/agents/${created.id}/activity`,
      `/api/conversations/${sent.body.conversation_id}/messages`,
      "/api/decisions",
      "/api/deliveries",
      `/api/tasks/${task.body.id}/runs`,
    ];
    for (const list of lists) {
      expect((await person.get(`${list}?limit=2`)).status).toBe(200);
      for (const bad of ["1.5", "-1", "abc", "1e3", "0"]) {
        const res = await person.get(`${list}?limit=${bad}`);
        expect({ list, bad, status: res.status }).toEqual({ list, bad, status: 400 });
        expect(res.body.detail).toStartWith("limit:");
      }
    }
  });

  test("GET /api/agent/decisions/:id?wait= takes whole seconds only", async () => {
    const url = `/api/agent/decisions/${decision.body.decision_id}`;
    expect((await agent.get(`${url}?wait=0`)).status).toBe(200);
    for (const bad of ["1.5", "-1", "abc", "0.001"]) {
      const res = await agent.get(`${url}?wait=${bad}`);
      expect({ bad, status: res.status }).toEqual({ bad, status: 400 });
      expect(res.body.detail).toStartWith("wait:");
    }
  });
});

describe("JSON nested deeper than 64 levels", async () => {
  const server = await serverWithLog("error");
  const { person, created, agent } = await withAgent(server);
  const task = await agent.post("/api/agent/tasks", { name: "hook", prompt: "p", schedule: "event" });
  /** JSON text `depth` levels deep: arrays inside the object `wrap` opens (its own level counts). */
  const nested = (depth: number, wrap = "") => (wrap ? `{${wrap}` : "") + "[".repeat(depth - (wrap ? 1 : 0)) + "]".repeat(depth - (wrap ? 1 : 0)) + (wrap ? "}" : "");
  const TOO_DEEP = { detail: "body: JSON nested deeper than 64 levels" };

  test("the public webhook trigger: 100,000 and 65 levels → 400, 60 levels is the payload", async () => {
    const url = new URL(task.body.trigger_url).pathname;
    for (const depth of [100_000, 65]) {
      for (const ct of ["application/json", "text/plain"]) {
        const res = await request(server.url, "POST", url, { raw: nested(depth, '"a":'), headers: { "content-type": ct } });
        expect({ depth, ct, status: res.status, body: res.body }).toEqual({ depth, ct, status: 400, body: TOO_DEEP });
      }
    }
    const ok = await request(server.url, "POST", url, { raw: nested(60, '"a":'), headers: { "content-type": "application/json" } });
    expect(ok.status).toBe(202);
    const pending = (await agent.get("/api/agent/tasks/triggers/pending")).body;
    expect(pending).toHaveLength(1);
    expect(JSON.stringify(pending[0].payload)).toBe(nested(60, '"a":'));
  });

  test("agent events, with or without a JSON Content-Type: 100,000 and 65 levels → 400, 60 accepted", async () => {
    const status = '"type":"message","text":"deep","x":'; // extra fields are ignored, whatever their depth up to 64
    for (const depth of [100_000, 65]) {
      for (const headers of [{ "content-type": "application/json" }, {}] as Record<string, string>[]) {
        const res = await request(server.url, "POST", "/api/agent/events", {
          raw: nested(depth, status),
          headers: { ...headers, "x-nod-agent-id": created.id, "x-nod-secret": created.secret },
        });
        expect({ depth, status: res.status, body: res.body }).toEqual({ depth, status: 400, body: TOO_DEEP });
      }
    }
    const ok = await request(server.url, "POST", "/api/agent/events", {
      raw: nested(60, status),
      headers: { "content-type": "application/json", "x-nod-agent-id": created.id, "x-nod-secret": created.secret },
    });
    expect(ok.status).toBe(200);
  });

  test("people's routes: 100,000 and 65 levels → 400", async () => {
    for (const depth of [100_000, 65]) {
      const res = await request(server.url, "POST", "/api/agents", { raw: nested(depth, '"name":"deep","x":'), headers: { "content-type": "application/json", cookie: person.cookie } });
      expect({ depth, status: res.status, body: res.body }).toEqual({ depth, status: 400, body: TOO_DEEP });
    }
    expect((await person.get("/api/agents")).body.map((a: { name: string }) => a.name)).not.toContain("deep");
  });

  test("an agent's WebSocket frame: an error frame, and the socket stays open", async () => {
    const ws = await connectAgent(server, created);
    for (const depth of [100_000, 65]) {
      ws.send(nested(depth, '"type":"status","action":"deep","request_id":"d' + depth + '","details":'));
      const err = await ws.waitFor((f) => f.request_id === "d" + depth);
      expect(err).toMatchObject({ type: "error", detail: "frame: JSON nested deeper than 64 levels" });
    }
    ws.send(nested(60, '"type":"status","action":"fine","request_id":"ok","details":'));
    expect(await ws.waitFor((f) => f.request_id === "ok")).toMatchObject({ type: "ack" });
    ws.send({ type: "ping", request_id: "p" });
    expect(await ws.waitFor("pong")).toMatchObject({ request_id: "p" });
    await ws.close();
  });
});

describe("a body over the server-wide limit", async () => {
  const server = await serverWithLog("error");
  const { created } = await withAgent(server);
  const auth = { "x-nod-agent-id": created.id, "x-nod-secret": created.secret, "content-type": "application/json" };
  const SIZE = 17 * 1024 * 1024;
  /** A 17 MiB body sent in 1 MiB chunks without Content-Length (chunked transfer encoding). */
  const chunked = () => {
    const chunk = new Uint8Array(1024 * 1024).fill(0x20);
    let sent = 0;
    return new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= SIZE) return c.close();
        sent += chunk.byteLength;
        c.enqueue(chunk);
      },
    });
  };

  test("17 MiB with a Content-Length: 413 with a JSON detail", async () => {
    const res = await fetch(server.url + "/api/agent/events", { method: "POST", headers: auth, body: " ".repeat(SIZE) });
    expect(res.status).toBe(413);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect((await res.json()).detail).toContain("request body too large");
  });

  test("17 MiB chunked: 413 with a JSON detail", async () => {
    const res = await fetch(server.url + "/api/agent/events", { method: "POST", headers: auth, body: chunked(), duplex: "half" } as RequestInit);
    expect(res.status).toBe(413);
    expect((await res.json()).detail).toContain("request body too large");
  });

  test("the server answers as before afterwards", async () => {
    expect((await request(server.url, "GET", "/healthz")).body).toEqual({ status: "ok" });
  });
});

describe("data at rest is private to nod's user", () => {
  const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
  /** An old-style data directory: 0755 folders, a world-readable image. */
  const oldDataDir = () => {
    const data = path.join(tempDir(), "data");
    mkdirSync(path.join(data, "media"), { recursive: true, mode: 0o755 });
    chmodSync(data, 0o755);
    chmodSync(path.join(data, "media"), 0o755);
    writeFileSync(path.join(data, "media", "0123456789abcdef0123456789abcdef.png"), Buffer.from(PNG_1x1, "base64"), { mode: 0o644 });
    return data;
  };
  const modesIn = (data: string) => {
    const files = readdirSync(data).filter((f) => f !== "media");
    const media = readdirSync(path.join(data, "media"));
    return {
      dirs: [mode(data), mode(path.join(data, "media"))],
      files: Object.fromEntries(files.map((f) => [f, mode(path.join(data, f))])),
      media: [...new Set(media.map((f) => mode(path.join(data, "media", f))))],
      images: media.length,
    };
  };
  async function writeImage(url: string) {
    const person = await owner({ url });
    const created = await person.createAgent();
    const res = await new AgentClient(url, created.id, created.secret).event({ type: "message", text: "look", image_base64: PNG_1x1 });
    expect(res.status).toBe(200);
  }

  test("nod serve and nod backup under umask 022: folders 0700, database, WAL, images and backup 0600", async () => {
    const data = oldDataDir();
    const umask022 = (args: string[]) => ["-c", 'umask 022 && exec "$0" "$@"', process.execPath, "run", MAIN, ...args];
    const run = spawnNod(umask022(["serve", "--port", "0", "--host", "127.0.0.1", "--data", data]), { bin: "/bin/sh", env: { NOD_LOG_LEVEL: "error" } });
    try {
      const url = (await run.waitForOutput(/listening on (http:\/\/\S+:\d+)/))[1]!;
      await writeImage(url);
      const file = path.join(tempDir(), "nod-backup.db");
      const backup = await runNod(umask022(["backup", file, "--data", data]), { bin: "/bin/sh" });
      expect(backup.exitCode).toBe(0);
      expect(mode(file)).toBe("600");
      expect(modesIn(data)).toEqual({ dirs: ["700", "700"], files: { "nod.db": "600", "nod.db-wal": "600", "nod.db-shm": "600" }, media: ["600"], images: 2 });
    } finally {
      run.proc.kill("SIGTERM");
      await run.done;
    }
  });

  test("in process too, with umask 022 in effect: the modes are set explicitly", async () => {
    const before = process.umask(0o022);
    try {
      const data = oldDataDir();
      const nod = await startServer(makeConfig({ port: 0, host: "127.0.0.1", logLevel: "error", dataDir: data }), { log: new Logger("error") });
      try {
        await writeImage(nod.url);
        expect(modesIn(data)).toEqual({ dirs: ["700", "700"], files: { "nod.db": "600", "nod.db-wal": "600", "nod.db-shm": "600" }, media: ["600"], images: 2 });
      } finally {
        await nod.stop();
      }
    } finally {
      process.umask(before);
    }
  });
});
