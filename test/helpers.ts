// Shared test helpers: a real server on a free loopback port with its own
// temporary data directory, and small clients for a person and an agent.
//
// Requests to a server this process started run in process (app.handle with a
// Request), without a socket: the same routes, hooks and responses, less the
// network stack. What needs a socket uses one: WebSockets, postFrom (another
// client address), fetch(), requests with { network: true }, and every request
// when NOD_TEST_NETWORK=1.
//
// NOD_TEST_BACKEND=pg runs the servers on PostgreSQL (NOD_TEST_DATABASE_URL,
// test/pg-helpers.ts): a fresh database per data directory, so restart() and a
// second server on the same directory share it; dropped after the file.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import http from "node:http";
import { afterAll, expect, test } from "bun:test";
import { makeConfig, type Config } from "../server/config.ts";
import { startServer, type NodServer } from "../server/app.ts";
import { Logger } from "../server/lib/log.ts";
import { users } from "../server/db/tables.ts";
import { createSession, setupOpen, SESSION_COOKIE } from "../server/auth/service.ts";
import { timeId } from "../server/lib/ids.ts";
import { isoMs } from "../server/lib/time.ts";
import type { Ctx } from "../server/context.ts";
import type { Db } from "../server/db/index.ts";
import { freshDatabase } from "./pg-helpers.ts";

export interface TestServer extends NodServer {
  dataDir: string;
  /** Stops this server and starts a new one on the same data directory (and port), with more settings if given. */
  restart(more?: Partial<Config>): Promise<TestServer>;
}

/**
 * The writer's own connection, for rows a test puts straight into the
 * database: ctx.db is the server's read connection and cannot write.
 */
export const writeDb = (ctx: Ctx): Db => ctx.writer.db;

export function tempDir(prefix = "nod-test-") {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Running servers of this process by URL: requests to them are handled in process. */
const inProcess = new Map<string, NodServer>();
const ALWAYS_NETWORK = !!process.env.NOD_TEST_NETWORK;

/** The test servers' backend: "sqlite" (default) or "pg" (NOD_TEST_BACKEND=pg). */
export const TEST_BACKEND = process.env.NOD_TEST_BACKEND === "pg" ? "pg" : "sqlite";

/** Under NOD_TEST_BACKEND=pg: the database of each data directory, and the servers that used it (stopped before it is dropped). */
const databases = new Map<string, { url: Promise<string>; servers: NodServer[] }>();

function databaseFor(dataDir: string) {
  let db = databases.get(dataDir);
  if (!db) {
    const fresh = freshDatabase();
    db = { url: fresh.then((f) => f.url), servers: [] };
    databases.set(dataDir, db);
    const { servers } = db;
    afterAll(async () => {
      try {
        for (const s of servers) await s.stop().catch(() => {}); // a failed stop still closed its store (app.ts)
      } finally {
        databases.delete(dataDir);
        await (await fresh).drop();
      }
    });
  }
  return db;
}

export async function startTestServer(over: Partial<Config> & { now?: () => number } = {}, dataDir = tempDir()): Promise<TestServer> {
  const { now, ...configOver } = over;
  const pg = TEST_BACKEND === "pg" ? databaseFor(dataDir) : null;
  const databaseUrl = pg ? await pg.url : null;
  const config = makeConfig({ port: 0, host: "127.0.0.1", logLevel: "error", databaseUrl, ...configOver, dataDir });
  const nod = await startServer(config, { log: new Logger(process.env.NOD_TEST_LOG ? "debug" : "error"), now });
  pg?.servers.push(nod);
  inProcess.set(nod.url, nod);
  const stop = () => {
    if (inProcess.get(nod.url) === nod) inProcess.delete(nod.url);
    return nod.stop();
  };
  const ts: TestServer = {
    ...nod,
    stop,
    dataDir,
    async restart(more = {}) {
      const port = nod.server.port;
      await stop();
      return startTestServer({ ...over, ...more, port }, dataDir);
    },
  };
  afterAll(stop);
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

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  raw?: string;
  /** Over a real socket even when the server runs in this process. */
  network?: boolean;
}

export async function request(base: string, method: string, path: string, opts: RequestOptions = {}): Promise<Res> {
  const headers: Record<string, string> = { ...opts.headers };
  let body: string | undefined = opts.raw;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["content-type"] ??= "application/json";
  }
  const local = !opts.network && !ALWAYS_NETWORK && inProcess.get(base);
  if (!local) return toRes(await fetch(base + path, { method, headers, body, redirect: "manual" }));
  // As Bun.serve builds it: the URL names the Host the client sent. No client
  // address: the sign-in limits count these requests under "unknown".
  const host = Object.entries(headers).find(([k]) => k.toLowerCase() === "host")?.[1] ?? new URL(base).host;
  const res = await toRes(await local.app.handle(new Request(`http://${host}${path}`, { method, headers, body })));
  // A turn of the event loop, as a round trip over a socket gives: a loop of
  // requests must not starve the server's timers and socket writes.
  await new Promise((resolve) => setImmediate(resolve));
  return res;
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

// argon2id hashes by password, made once per process: a hash costs about 0.2 s of CPU.
const hashes = new Map<string, Promise<string>>();

/**
 * The owner, set up on a fresh server (username alice) and signed in. On a
 * server of this process the account and its session are written as setup
 * and sign-in write them, with a hash made once per process; elsewhere (a
 * spawned server) through POST /api/auth/setup.
 */
export async function owner(server: { url: string; ctx?: NodServer["ctx"] }, username = "alice", password = "correct horse battery") {
  const p = new Person(server.url);
  const ctx = server.ctx;
  if (!ctx || ALWAYS_NETWORK) {
    const res = await p.post("/api/auth/setup", { username, password });
    if (res.status !== 201) throw new Error(`setup: ${res.status} ${JSON.stringify(res.body)}`);
    return p;
  }
  if (!hashes.has(password)) hashes.set(password, Bun.password.hash(password));
  const passwordHash = await hashes.get(password)!;
  if (!(await setupOpen(ctx.db))) throw new Error("setup: the server already has its owner");
  const id = timeId("usr_");
  await writeDb(ctx).insert(users).values({ id, username, passwordHash, createdAt: isoMs() });
  p.cookie = `${SESSION_COOKIE}=${await createSession(writeDb(ctx), id, ctx.now())}`;
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

/** Owner + agents A and B: what one agent must never see of the other's. */
export async function twoAgents(server: { url: string }) {
  const person = await owner(server);
  const cA = await person.createAgent({ name: "A" });
  const cB = await person.createAgent({ name: "B" });
  return { person, cA, cB, A: new AgentClient(server.url, cA.id, cA.secret), B: new AgentClient(server.url, cB.id, cB.secret) };
}

/**
 * One API scenario (PocketBase's ApiScenario style): a request, the status it
 * gets, fragments its body must contain and text it must not show. Each row of
 * a table becomes its own test; what the rows share is set up before them.
 */
export interface Scenario {
  name: string;
  request: () => Promise<Res>;
  status: number;
  /** Matched with toMatchObject. */
  body?: unknown;
  /** Must not appear anywhere in the body. */
  leaks?: RegExp;
}

export function scenarios(rows: Scenario[]) {
  for (const row of rows)
    test(`${row.name} → ${row.status}`, async () => {
      const r = await row.request();
      expect({ status: r.status, body: r.body }).toMatchObject({ status: row.status, ...(row.body === undefined ? {} : { body: row.body }) });
      if (row.leaks) expect(JSON.stringify(r.body)).not.toMatch(row.leaks);
    });
}

/** Every 429 says why in {"detail"} and when to come back in Retry-After (fetch Headers or node's header object). */
export function expectLimited(r: { status: number; body: any; headers: Headers | Record<string, unknown> }) {
  expect(r.status).toBe(429);
  expect(typeof r.body.detail).toBe("string");
  const retry = r.headers instanceof Headers ? r.headers.get("retry-after") : r.headers["retry-after"];
  expect(Number(retry)).toBeGreaterThan(0);
}

/**
 * POST JSON from a chosen loopback source address (127.0.0.2, …): another client as the server sees it.
 * A connection each (no keep-alive pool): a kept one would be dead after a restart on the same port.
 */
export function postFrom(base: string, localAddress: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const u = new URL(base);
  return new Promise<{ status: number; body: any; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path, method: "POST", localAddress, agent: false, headers: { "content-type": "application/json", ...headers } },
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

/**
 * The least a wait for something to happen gives it before failing. Waits are
 * hang guards, never time checks: on a busy machine (parallel test files, a
 * core taken by something else) a few seconds can pass before a timer fires.
 */
export const GUARD_MS = 30_000;

/** Waits until check() returns something truthy, polling every 10 ms (at least GUARD_MS before failing). */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = GUARD_MS, what = "condition"): Promise<NonNullable<T>> {
  const end = Date.now() + Math.max(timeoutMs, GUARD_MS);
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

export const PNG_1x1 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
