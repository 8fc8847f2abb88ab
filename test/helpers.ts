// Shared test helpers: a real server on a free loopback port with its own
// temporary data directory, and small clients for a person and an agent.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import http from "node:http";
import { afterAll } from "bun:test";
import { makeConfig, type Config } from "../server/config.ts";
import { startServer, type NodServer } from "../server/app.ts";
import { Logger } from "../server/lib/log.ts";

export interface TestServer extends NodServer {
  dataDir: string;
  /** Stops this server and starts a new one on the same data directory (and port). */
  restart(): Promise<TestServer>;
}

export function tempDir(prefix = "nod-test-") {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function startTestServer(over: Partial<Config> & { now?: () => number } = {}, dataDir = tempDir()): Promise<TestServer> {
  const { now, ...configOver } = over;
  const config = makeConfig({ port: 0, host: "127.0.0.1", logLevel: "error", ...configOver, dataDir });
  const nod = await startServer(config, { log: new Logger(process.env.NOD_TEST_LOG ? "debug" : "error"), now });
  const ts: TestServer = {
    ...nod,
    dataDir,
    async restart() {
      const port = nod.server.port;
      await nod.stop();
      return startTestServer({ ...over, port }, dataDir);
    },
  };
  afterAll(() => nod.stop());
  return ts;
}

export interface Res<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

async function toRes(r: Response): Promise<Res> {
  const text = await r.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {}
  return { status: r.status, body, headers: r.headers };
}

export async function request(base: string, method: string, path: string, opts: { body?: unknown; headers?: Record<string, string>; raw?: string } = {}): Promise<Res> {
  const headers: Record<string, string> = { ...opts.headers };
  let body: string | undefined = opts.raw;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["content-type"] ??= "application/json";
  }
  return toRes(await fetch(base + path, { method, headers, body, redirect: "manual" }));
}

/** A signed-in person: keeps the session cookie. */
export class Person {
  cookie = "";
  constructor(readonly base: string) {}

  async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await request(this.base, method, path, { body, headers: { ...(this.cookie ? { cookie: this.cookie } : {}), ...headers } });
    const set = res.headers.get("set-cookie");
    if (set) this.cookie = set.split(";")[0]!;
    return res;
  }
  get = (path: string) => this.call("GET", path);
  post = (path: string, body?: unknown) => this.call("POST", path, body ?? {});
  patch = (path: string, body: unknown) => this.call("PATCH", path, body);
  delete = (path: string) => this.call("DELETE", path);

  /** Creates an agent; returns its full creation response (id, secret, webhook_secret…). */
  async createAgent(body: Record<string, unknown> = {}) {
    const res = await this.post("/api/agents", { name: "Test Agent", ...body });
    if (res.status !== 201) throw new Error(`create agent: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as { id: string; secret: string; webhook_secret: string; name: string; type: string };
  }
}

/** The owner, set up on a fresh server (username alice). */
export async function owner(server: { url: string }, username = "alice", password = "correct horse battery") {
  const p = new Person(server.url);
  const res = await p.post("/api/auth/setup", { username, password });
  if (res.status !== 201) throw new Error(`setup: ${res.status} ${JSON.stringify(res.body)}`);
  return p;
}

/** An agent's REST client: sends X-Nod-Agent-Id and X-Nod-Secret. */
export class AgentClient {
  constructor(
    readonly base: string,
    readonly id: string,
    readonly secret: string,
  ) {}
  call(method: string, path: string, body?: unknown) {
    return request(this.base, method, path, { body, headers: { "x-nod-agent-id": this.id, "x-nod-secret": this.secret } });
  }
  event = (body: Record<string, unknown>) => this.call("POST", "/api/agent/events", body);
  get = (path: string) => this.call("GET", path);
  post = (path: string, body?: unknown) => this.call("POST", path, body ?? {});
}

/** Owner + one agent, the most common starting point. */
export async function withAgent(server: { url: string }, body: Record<string, unknown> = {}) {
  const person = await owner(server);
  const created = await person.createAgent(body);
  return { person, created, agent: new AgentClient(server.url, created.id, created.secret) };
}

/** POST JSON from a chosen loopback source address (127.0.0.2, …): another client as the server sees it. */
export function postFrom(base: string, localAddress: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const u = new URL(base);
  return new Promise<{ status: number; body: any; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path, method: "POST", localAddress, headers: { "content-type": "application/json", ...headers } },
      (res) => {
        let d = "";
        res.on("data", (c) => (d += c));
        res.on("end", () => resolve({ status: res.statusCode!, body: d ? JSON.parse(d) : null, headers: res.headers }));
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

/** Waits until check() returns something truthy, polling every 10 ms. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5000, what = "condition"): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

export const PNG_1x1 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
