// bun bench/lists.ts [messages=1000000] [agents=100000] [openRuns=300000]
//
// Flat cost as data grows. Builds a database the size of a busy year (by
// default 1,000,000 messages in one conversation, none of them read; as many
// activity entries and delivered events; 100,000 agents; 100,000 requests),
// then, against a nod server running as its own process on loopback, times
// every page, count and mark-read people use (client-side, request sent until
// the whole answer is in: an upper bound of the server's time).
// Target: every one under 20 ms.
//
// Then, in this process, the run-timeout sweep with `openRuns` open runs:
// how long finding nothing stale takes, and the longest the event loop is
// held while thousands of stale runs are failed. Target: never over 10 ms.
//
// Building the data takes a minute or two (bulk inserts, as fast as SQLite goes).
// NOD_ROOT=/path/to/other/checkout measures another version (before/after).
// Also a section of bench/all.ts (figures()).
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { fmtMs, spawnServer, type Figure } from "./lib.ts";

const root = process.env.NOD_ROOT ?? path.resolve(import.meta.dir, "..");
const dbModule = (await import(path.join(root, "server/db/index.ts"))) as typeof import("../server/db/index.ts");
const { openDb, closeDb } = dbModule;

/** The size of the database built, and where. */
interface Size {
  dir: string;
  messages: number;
  agents: number;
  openRuns: number;
}

const hex = (n: number, w: number) => n.toString(16).padStart(w, "0");
/** Time-ordered ids like the server's (prefix, 12 hex of ms, 4 of counter, 8 random): here the counter is the row number. */
const id = (prefix: string, ms: number, i: number) => `${prefix}${hex(ms, 12)}${hex(i & 0xffff, 4)}${hex(i, 8)}`;
const iso = (ms: number) => new Date(ms).toISOString();

function build({ dir, messages: MESSAGES, agents: AGENTS }: Size) {
  const t0 = performance.now();
  const db = openDb(dir);
  const c = db.$client;
  const cols = (table: string) => new Set(c.query<{ name: string }, []>(`PRAGMA table_info(${table})`).all().map((r) => r.name));
  const counted = cols("conversations").has("unread"); // this version keeps unread counts per conversation
  const start = Date.now() - 400 * 86_400_000;
  const at = (i: number, n: number) => start + Math.floor((i / n) * 390 * 86_400_000);
  c.run("PRAGMA synchronous = OFF");
  const tx = (n: number, fn: (i: number) => void) => {
    for (let i = 0; i < n; i += 50_000) c.transaction(() => { for (let k = i; k < Math.min(n, i + 50_000); k++) fn(k); })();
  };
  // agents: the busy one first
  const agent = c.prepare("INSERT INTO agents (id, name, type, secret_hash, webhook_secret, created_at, updated_at) VALUES (?, ?, 'interactive', 'x', 'whsec_x', ?, ?)");
  tx(AGENTS, (i) => agent.run(`agt_${hex(i, 16)}`, `Agent ${i}`, iso(at(i, AGENTS)), iso(at(i, AGENTS))));
  const busy = `agt_${hex(0, 16)}`;
  const conv = "conv_busy";
  c.run(
    `INSERT INTO conversations (id, agent_id, title, is_default, created_at, updated_at${counted ? ", unread" : ""}) VALUES (?, ?, 'Busy', 1, ?, ?${counted ? ", ?" : ""})`,
    counted ? [conv, busy, iso(start), iso(Date.now()), MESSAGES] : [conv, busy, iso(start), iso(Date.now())],
  );
  const msg = c.prepare("INSERT INTO messages (id, conversation_id, agent_id, role, text, created_at) VALUES (?, ?, ?, 'agent', ?, ?)");
  tx(MESSAGES, (i) => msg.run(id("msg_", at(i, MESSAGES), i), conv, busy, `Build #${i} deployed to staging; all checks passed.`, iso(at(i, MESSAGES))));
  const act = c.prepare("INSERT INTO activity (id, agent_id, type, title, created_at) VALUES (?, ?, 'agent_message', 'Agent 0 sent a message', ?)");
  tx(MESSAGES, (i) => act.run(id("act_", at(i, MESSAGES), i), busy, iso(at(i, MESSAGES))));
  const evt = c.prepare(
    "INSERT INTO outbox (id, agent_id, type, payload, status, delivered_via, created_at, delivered_at) VALUES (?, ?, 'user_message', ?, 'delivered', 'websocket', ?, ?)",
  );
  tx(MESSAGES, (i) => {
    const e = id("evt_", at(i, MESSAGES), i);
    evt.run(e, busy, `{"type":"user_message","event_id":"${e}","text":"hi","conversation_id":"${conv}"}`, iso(at(i, MESSAGES)), iso(at(i, MESSAGES)));
  });
  const pendingEvt = c.prepare("INSERT INTO outbox (id, agent_id, type, payload, status, next_attempt_at, created_at) VALUES (?, ?, 'user_message', '{}', 'pending', NULL, ?)");
  tx(1000, (i) => pendingEvt.run(id("evt_", Date.now(), i), `agt_${hex(1 + (i % 100), 16)}`, iso(Date.now())));
  const REQUESTS = 100_000;
  const dec = c.prepare("INSERT INTO decisions (id, agent_id, kind, title, description, status, created_at) VALUES (?, ?, 'approval', 'Deploy?', '', ?, ?)");
  tx(REQUESTS, (i) => dec.run(id("dec_", at(i, REQUESTS), i), busy, i < REQUESTS - 1000 ? "approved" : "pending", iso(at(i, REQUESTS))));
  c.run("PRAGMA synchronous = NORMAL");
  // Every statement finalized before closing: an open one keeps the connection (and its locks) alive for the server's start.
  for (const st of [agent, msg, act, evt, pendingEvt, dec]) st.finalize();
  closeDb(db);
  return { seconds: (performance.now() - t0) / 1000, busy, conv };
}

async function time(url: string, init: RequestInit = {}, n = 15) {
  const ms: number[] = [];
  let bytes = 0;
  let status = 0;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = await fetch(url, init);
    const body = await r.arrayBuffer();
    ms.push(performance.now() - t);
    bytes = body.byteLength;
    status = r.status;
  }
  ms.sort((a, b) => a - b);
  return { p50: ms[Math.floor(ms.length / 2)]!, max: ms.at(-1)!, bytes, status };
}

/** Times each page, count and mark-read against nod in its own process; returns one row each. */
async function lists({ dir, messages: MESSAGES, agents: AGENTS }: Size, busy: string, conv: string) {
  const nod = await spawnServer(["bun", ...(process.env.BENCH_BUN_FLAGS ?? "").split(" ").filter(Boolean), path.join(root, "server/main.ts"), "serve", "--port", "0", "--host", "127.0.0.1", "--data", dir, "--log-level", "warn"]);
  const base = nod.url;
  const setup = await fetch(base + "/api/auth/setup", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "bench", password: "bench password" }) });
  const cookie = setup.headers.get("set-cookie")!.split(";")[0]!;
  const get = { headers: { cookie } };
  const post = { method: "POST", headers: { cookie, "content-type": "application/json" }, body: "{}" };
  const middle = (prefix: string) => id(prefix, Date.now() - 200 * 86_400_000, 0);
  const middleAgent = `agt_${hex(Math.floor(AGENTS / 2), 16)}`;
  const rows: [string, string, RequestInit?, number?][] = [
    ["GET /api/agents (the newest page of 50, with counts)", "/api/agents"],
    ["GET /api/agents?limit=50&before= (a middle page)", `/api/agents?limit=50&before=${middleAgent}`],
    ["GET /api/conversations/:id/messages (the latest 50)", `/api/conversations/${conv}/messages`],
    ["GET …/messages?before= (half a year back)", `/api/conversations/${conv}/messages?before=${middle("msg_")}`],
    ["GET /api/activity", "/api/activity"],
    ["GET /api/agents/:id/activity?before= (middle)", `/api/agents/${busy}/activity?before=${middle("act_")}`],
    ["GET /api/deliveries (not delivered yet)", "/api/deliveries"],
    ["GET /api/deliveries?status=delivered", "/api/deliveries?status=delivered"],
    ["GET /api/deliveries?status=delivered&before= (middle)", `/api/deliveries?status=delivered&before=${middle("evt_")}`],
    ["GET /api/deliveries?agent_id= (not delivered yet)", `/api/deliveries?agent_id=${busy}`],
    ["GET /api/decisions?status=pending", "/api/decisions?status=pending"],
    ["GET /api/decisions?status=resolved", "/api/decisions?status=resolved"],
    ["GET /api/decisions?agent_id=&status=pending", `/api/decisions?agent_id=${busy}&status=pending`],
    [`POST /api/conversations/:id/read (${MESSAGES.toLocaleString("en")} unread)`, `/api/conversations/${conv}/read`, post, 1],
    ["POST /api/conversations/:id/read (again: none unread)", `/api/conversations/${conv}/read`, post],
  ];
  const timed: ({ name: string } & Awaited<ReturnType<typeof time>>)[] = [];
  try {
    for (const [name, p, init, n] of rows) {
      if (!init) await time(base + p, get, 1); // the route's first call compiles its handler: not counted
      timed.push({ name, ...(await time(base + p, init ?? get, n)) });
    }
  } finally {
    nod.proc.kill("SIGTERM");
    await nod.proc.exited;
  }
  return timed;
}

/** The run-timeout sweep over `openRuns` open runs, in this process (the server is stopped). */
async function sweep({ dir, openRuns: OPEN_RUNS }: Size) {
  const { makeConfig } = (await import(path.join(root, "server/config.ts"))) as typeof import("../server/config.ts");
  const { createContext } = (await import(path.join(root, "server/app.ts"))) as typeof import("../server/app.ts");
  const { Logger } = (await import(path.join(root, "server/lib/log.ts"))) as typeof import("../server/lib/log.ts");
  // The sweep lives in run-timeout.ts since runs.ts was split; an older checkout (NOD_ROOT) still has runs.ts.
  const sweepFile = existsSync(path.join(root, "server/tasks/run-timeout.ts")) ? "server/tasks/run-timeout.ts" : "server/tasks/runs.ts";
  const runs = (await import(path.join(root, sweepFile))) as typeof import("../server/tasks/run-timeout.ts");
  const TIMEOUT = 86_400_000;
  const { ctx } = await createContext(makeConfig({ port: 0, host: "127.0.0.1", dataDir: dir, logLevel: "error", runTimeoutMs: TIMEOUT }), { log: new Logger("error") });
  // The writer's own connection where this version has one (ctx.db only reads there).
  const writeDb = (ctx.writer as { db?: typeof ctx.db }).db ?? ctx.db;
  const c = writeDb.$client;
  // As in the server: checkpoints in their worker thread, when this version has one.
  const cp = existsSync(path.join(root, "server/db/checkpointer.ts"))
    ? new (((await import(path.join(root, "server/db/checkpointer.ts"))) as typeof import("../server/db/checkpointer.ts")).Checkpointer)(writeDb, path.join(dir, "nod.db"))
    : null;
  const now = Date.now();
  const STALE = 5000;
  c.run("PRAGMA synchronous = OFF");
  c.transaction(() => {
    const agents = c.query<{ id: string }, []>("SELECT id FROM agents LIMIT 100").all().map((r) => r.id);
    const task = c.prepare("INSERT INTO tasks (id, agent_id, name, prompt, schedule, trigger_type, created_at, updated_at) VALUES (?, ?, 'Job', 'go', '0 * * * *', 'scheduled', ?, ?)");
    agents.forEach((a, i) => task.run(`tsk_${hex(i, 20)}`, a, iso(now), iso(now)));
    const run = c.prepare("INSERT INTO task_runs (id, task_id, agent_id, status, \"trigger\", created_at) VALUES (?, ?, ?, 'due', 'schedule', ?)");
    for (let i = 0; i < OPEN_RUNS; i++) {
      const k = i % agents.length;
      // all recent but the first STALE: those became due more than a day ago
      const due = i < STALE ? now - TIMEOUT - 60_000 - (STALE - i) : now - (i % 3_600_000);
      run.run(id("run_", due, i), `tsk_${hex(k, 20)}`, agents[k]!, iso(due));
    }
  })();
  c.run("PRAGMA synchronous = NORMAL");
  cp?.start();
  await Bun.sleep(500); // the worker takes over, and checkpoints what the setup wrote
  // A running server has prepared the statements a sweep uses (the sweep's own, the activity
  // and push ones every event uses) long before: one stale run is failed first, not counted.
  await runs.failStaleRuns(ctx, now, 1);
  // The longest the event loop is held: each sweep call is one stretch (the scheduler yields between them); since the
  // sweep is async, its unit of work waits for the writer's next batch, a turn of the loop that counts in the wall time.
  // Wall time, and the event loop thread's CPU time (what the sweep itself costs: a busy
  // machine that takes the CPU away in the middle of a stretch shows in the wall time only;
  // the checkpoint worker and the garbage collector's helpers run on threads of their own).
  const threadCpu = (prev?: NodeJS.CpuUsage): NodeJS.CpuUsage =>
    (process as unknown as { threadCpuUsage?: (p?: NodeJS.CpuUsage) => NodeJS.CpuUsage }).threadCpuUsage?.(prev) ?? process.cpuUsage(prev);
  const calls: number[] = [];
  const cpu: number[] = [];
  let failed = 1;
  for (;;) {
    const t = performance.now();
    const c0 = threadCpu();
    const n = await runs.failStaleRuns(ctx, now);
    const c1 = threadCpu(c0);
    cpu.push((c1.user + c1.system) / 1000);
    calls.push(performance.now() - t);
    failed += n;
    if (n < runs.STALE_BATCH) break;
    await new Promise((r) => setImmediate(r));
  }
  const longest = Math.max(...calls);
  const idle: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    await runs.failStaleRuns(ctx, now);
    idle.push(performance.now() - t);
  }
  const sorted = [...calls].sort((a, b) => a - b);
  const cpuSorted = [...cpu].sort((a, b) => a - b);
  const p = (xs: number[], q: number) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
  const result = {
    failed,
    stretches: calls.length,
    batch: runs.STALE_BATCH,
    wall: { median: p(sorted, 0.5), p99: p(sorted, 0.99), max: longest },
    cpu: { median: p(cpuSorted, 0.5), p99: p(cpuSorted, 0.99), max: cpuSorted.at(-1)! },
    idle: Math.max(...idle),
    stale: STALE,
  };
  await cp?.stop();
  ((dbModule as { closeStore?: typeof closeDb }).closeStore ?? closeDb)(ctx.db);
  return result;
}

/** Builds the database, times the lists against nod, then the sweep; the database is removed after. */
export async function measure(opts: { messages?: number; agents?: number; openRuns?: number } = {}) {
  const size: Size = {
    dir: mkdtempSync(path.join(tmpdir(), "nod-lists-")),
    messages: opts.messages ?? 1_000_000,
    agents: opts.agents ?? 100_000,
    openRuns: opts.openRuns ?? 300_000,
  };
  try {
    const built = build(size);
    const rows = await lists(size, built.busy, built.conv);
    return { size, buildSeconds: built.seconds, rows, sweep: await sweep(size) };
  } finally {
    rmSync(size.dir, { recursive: true, force: true });
  }
}

/** The lists figures for bench/all.ts: each page, count and mark-read at 1M messages, and the sweep. */
export async function figures(opts: { messages?: number } = {}): Promise<Figure[]> {
  const section = "lists";
  const r = await measure({ messages: opts.messages });
  const out: Figure[] = r.rows.map((row) => ({
    section,
    what: row.name,
    value: `${fmtMs(row.p50)} (max ${fmtMs(row.max)}, ${(row.bytes / 1024).toFixed(1)} KiB)${row.status >= 300 ? ` status ${row.status}` : ""}`,
    target: "< 20 ms",
    met: row.max < 20,
  }));
  const s = r.sweep;
  const n = r.size.openRuns.toLocaleString("en");
  out.push({ section, what: `run-timeout sweep, ${n} open runs, nothing stale`, value: fmtMs(s.idle), target: "≤ 10 ms", met: s.idle <= 10 });
  out.push({
    section,
    what: `sweep failing ${s.stale.toLocaleString("en")} stale runs: longest stretch`,
    value: `${fmtMs(s.cpu.max)} CPU (${fmtMs(s.wall.max)} wall), ${s.stretches} stretches of ≤ ${s.batch}`,
    target: "≤ 10 ms",
    met: s.cpu.max <= 10,
  });
  return out;
}

if (import.meta.main) {
  console.log(`nod lists bench — ${navigator.hardwareConcurrency} cores, bun ${Bun.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  const r = await measure({ messages: Number(process.argv[2] ?? 1_000_000), agents: Number(process.argv[3] ?? 100_000), openRuns: Number(process.argv[4] ?? 300_000) });
  const { messages, agents, openRuns } = r.size;
  console.log(`built the database in ${r.buildSeconds.toFixed(0)} s`);
  console.log(`\n1. pages, counts and mark-read — ${messages.toLocaleString("en")} messages, ${agents.toLocaleString("en")} agents (client-side time, p50 / max of 15; mark-read once with all unread)`);
  for (const row of r.rows)
    console.log(`   ${row.name.padEnd(56)} ${row.p50.toFixed(2).padStart(8)} ms  max ${row.max.toFixed(2).padStart(8)} ms  ${String(row.status)} ${(row.bytes / 1024).toFixed(1).padStart(7)} KiB   ${row.max < 20 ? "ok" : "OVER 20 ms"}`);
  const worst = Math.max(...r.rows.map((row) => row.max));
  console.log(`   worst: ${worst.toFixed(2)} ms — target < 20 ms: ${worst < 20 ? "met" : "MISSED"}`);
  const s = r.sweep;
  const f = (x: number) => x.toFixed(2);
  console.log(`\n2. the run-timeout sweep — ${openRuns.toLocaleString("en")} open runs, ${s.stale.toLocaleString("en")} of them past the timeout`);
  console.log(`   failing ${s.failed.toLocaleString("en")} stale runs: ${s.stretches} stretches of at most ${s.batch}`);
  console.log(`      wall: median ${f(s.wall.median)} ms, p99 ${f(s.wall.p99)} ms, max ${f(s.wall.max)} ms`);
  console.log(`      CPU (event loop thread):  median ${f(s.cpu.median)} ms, p99 ${f(s.cpu.p99)} ms, max ${f(s.cpu.max)} ms`);
  console.log(`   a sweep that finds nothing stale: ${f(s.idle)} ms (max of 10)`);
  const worstSweep = Math.max(s.cpu.max, s.idle);
  console.log(`   the sweep's longest stretch: ${f(worstSweep)} ms of CPU (${f(s.wall.max)} ms wall) — target ≤ 10 ms: ${worstSweep <= 10 ? "met" : "MISSED"}`);
}
