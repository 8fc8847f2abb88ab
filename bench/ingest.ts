// bun bench/ingest.ts [seconds] [--pg [--url URL] [--fast]]
// Message events per second from agents, against nod and two bare servers
// (bench/bare-server.ts: Bun.serve that parses the same request and answers
// without a database — the HTTP ceiling — and Bun.serve + one bun:sqlite insert
// per request), each its own process on loopback. With --pg, nod runs on
// PostgreSQL (--database) and the bare server inserts the same row with
// Bun.sql, each in a fresh database of the same server (bench/pg.ts: --url, or
// a cluster of its own, durable unless --fast); issue 14's target is nod at
// least half the bare server's REST rate.
//   REST: POST /api/agent/events with 32 concurrent requests (closed loop), p50/p99;
//   WebSocket: one socket, frames acknowledged one by one (window 1) and with
//   64 in flight (window 64), acks per second.
// Also a section of bench/all.ts.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { closedLoop, fmtMs, percentile, printFigures, spawnServer, type Figure, type LoadResult } from "./lib.ts";
import { benchPg, type BenchPg } from "./pg.ts";

const CONCURRENCY = 32;
const WINDOWS = [1, 64];
const root = path.resolve(import.meta.dir, "..");
const TEXT = "Deployed **build #42** to staging; all checks passed.";
const body = JSON.stringify({ type: "message", text: TEXT });

interface Target {
  name: string;
  rest: string; // POST URL
  ws: string; // WebSocket URL
  headers: Record<string, string>;
  agent: { id: string; secret: string };
}

/** Acked frames per second over one socket with `window` frames in flight. */
async function wsAcked(t: Target, window: number, seconds: number) {
  const ws = new WebSocket(t.ws);
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", agent_id: t.agent.id, secret: t.agent.secret }));
    ws.onmessage = (e) => (String(e.data).includes('"auth_ok"') ? resolve() : reject(new Error(String(e.data))));
    ws.onerror = () => reject(new Error(`${t.name}: socket failed`));
  });
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  let stopAt = Infinity;
  const { promise: done, resolve: finish } = Promise.withResolvers<void>();
  const send = () => {
    const id = next++;
    sentAt.set(id, performance.now());
    ws.send(`{"type":"message","text":${JSON.stringify(TEXT)},"request_id":${id}}`);
  };
  ws.onmessage = (e) => {
    const data = String(e.data);
    const id = Number(/"request_id":(\d+)/.exec(data)?.[1]);
    const t0 = sentAt.get(id);
    if (t0 === undefined) return;
    sentAt.delete(id);
    latencies.push(performance.now() - t0);
    if (!data.includes('"ack"')) errors++;
    if (performance.now() < stopAt) send();
    else if (sentAt.size === 0) finish();
  };
  const t0 = performance.now();
  stopAt = t0 + seconds * 1000;
  for (let i = 0; i < window; i++) send();
  await done;
  const elapsed = (performance.now() - t0) / 1000;
  ws.close();
  latencies.sort((a, b) => a - b);
  return { rps: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors, frames: latencies.length };
}

async function measure(t: Target, seconds: number) {
  const sendRest = () => fetch(t.rest, { method: "POST", headers: t.headers, body });
  await closedLoop(CONCURRENCY, 1, sendRest); // warm-up
  const rest = await closedLoop(CONCURRENCY, seconds, sendRest);
  const ws: Record<number, Awaited<ReturnType<typeof wsAcked>>> = {};
  for (const w of WINDOWS) {
    await wsAcked(t, w, 0.5); // warm-up
    ws[w] = await wsAcked(t, w, seconds);
  }
  return { rest, ws };
}

async function nodTarget(dir: string, databaseUrl: string | null) {
  const database = databaseUrl ? ["--database", databaseUrl] : [];
  const nod = await spawnServer(["bun", path.join(root, "server/main.ts"), "serve", "--port", "0", "--host", "127.0.0.1", "--data", dir, "--log-level", "warn", ...database]);
  const json = { "content-type": "application/json" };
  const setup = await fetch(nod.url + "/api/auth/setup", { method: "POST", headers: json, body: JSON.stringify({ username: "bench", password: "bench password" }) });
  const cookie = setup.headers.get("set-cookie")!.split(";")[0]!;
  const agent = (await (await fetch(nod.url + "/api/agents", { method: "POST", headers: { ...json, cookie }, body: JSON.stringify({ name: "Bench" }) })).json()) as {
    id: string;
    secret: string;
  };
  const headers = { ...json, "x-nod-agent-id": agent.id, "x-nod-secret": agent.secret };
  return { proc: nod.proc, target: { name: "nod", rest: nod.url + "/api/agent/events", ws: `${nod.url.replace(/^http/, "ws")}/ws/agent/${agent.id}`, headers, agent } };
}

const BARE_NAMES = { db: "bare Bun.serve + sqlite insert", pg: "bare Bun.serve + PostgreSQL insert", nodb: "bare Bun.serve, no database" };

async function bareTarget(dir: string, mode: "db" | "nodb" | "pg", databaseUrl?: string) {
  const bare = await spawnServer(["bun", path.join(import.meta.dir, "bare-server.ts"), dir, mode, ...(databaseUrl ? [databaseUrl] : [])]);
  const agent = { id: "agt_0123456789abcdef", secret: "nod_bench" };
  const headers = { "content-type": "application/json", "x-nod-agent-id": agent.id, "x-nod-secret": agent.secret };
  const name = BARE_NAMES[mode];
  return { proc: bare.proc, target: { name, rest: bare.url + "/", ws: `${bare.url.replace(/^http/, "ws")}/ws`, headers, agent } };
}

const rate = (r: { rps: number }) => `${r.rps.toFixed(0)}/s`;
const rest = (r: LoadResult) => `${rate(r)} (p50 ${fmtMs(r.p50)}, p99 ${fmtMs(r.p99)}${r.errors ? `, ${r.errors} errors` : ""})`;

/** The ingest figures: nod against both bare servers (on PostgreSQL when pg is given). */
export async function figures(opts: { seconds?: number; pg?: BenchPg } = {}): Promise<Figure[]> {
  const seconds = opts.seconds ?? 5;
  const { pg } = opts;
  const dir = mkdtempSync(path.join(tmpdir(), "nod-bench-ingest-"));
  const results: { name: string; r: Awaited<ReturnType<typeof measure>> }[] = [];
  const starts = pg
    ? [async () => nodTarget(dir, await pg.database()), async () => bareTarget(dir, "pg", await pg.database()), () => bareTarget(dir, "nodb")]
    : [() => nodTarget(dir, null), () => bareTarget(dir, "db"), () => bareTarget(dir, "nodb")];
  try {
    for (const start of starts) {
      const { proc, target } = await start();
      try {
        results.push({ name: target.name, r: await measure(target, seconds) });
      } finally {
        proc.kill("SIGTERM");
        await proc.exited;
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const [nod, db, ceiling] = results as [(typeof results)[0], (typeof results)[0], (typeof results)[0]];
  const out: Figure[] = [];
  const section = pg ? "ingest on PostgreSQL" : "ingest";
  const store = pg ? "PostgreSQL" : "sqlite";
  for (const { name, r } of results) {
    out.push({ section, what: `${name}: REST, ${CONCURRENCY} concurrent`, value: rest(r.rest) });
    for (const w of WINDOWS) {
      // The issue's target for one socket: at least 15,000 acknowledged frames a second (best window).
      const wsTarget = name === "nod" && !pg && w === Math.max(...WINDOWS) ? { target: "≥ 15,000/s", met: r.ws[w]!.rps >= 15_000 } : {};
      out.push({ section, what: `${name}: one WebSocket, window ${w}`, value: `${rate(r.ws[w]!)} acked (p50 ${fmtMs(r.ws[w]!.p50)}, p99 ${fmtMs(r.ws[w]!.p99)})`, ...wsTarget });
    }
  }
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  const restVsDb = nod.r.rest.rps / db.r.rest.rps;
  // SQLite: nod's group commit against a commit per insert (issue 6); PostgreSQL: half the bare server's rate (issue 14).
  const restTarget = pg ? 0.5 : 1.5;
  out.push({ section, what: `REST: nod / bare + ${store}`, value: ratio(nod.r.rest.rps, db.r.rest.rps), target: `≥ ${restTarget}`, met: restVsDb >= restTarget });
  out.push({ section, what: "REST: nod / ceiling (no database)", value: ratio(nod.r.rest.rps, ceiling.r.rest.rps) });
  for (const w of WINDOWS) {
    out.push({ section, what: `WebSocket window ${w}: nod / bare + ${store}`, value: ratio(nod.r.ws[w]!.rps, db.r.ws[w]!.rps) });
    out.push({ section, what: `WebSocket window ${w}: nod / ceiling`, value: ratio(nod.r.ws[w]!.rps, ceiling.r.ws[w]!.rps) });
  }
  return out;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Bun.argv.slice(2),
    options: { pg: { type: "boolean", default: false }, url: { type: "string" }, fast: { type: "boolean", default: false } },
    allowPositionals: true,
  });
  const pg = values.pg ? await benchPg({ url: values.url, fast: values.fast }) : undefined;
  try {
    printFigures(await figures({ seconds: Number(positionals[0] ?? 5), pg }));
  } finally {
    await pg?.close();
  }
}
