// bun bench/multi-instance.ts [messages=300] [tasks=10000] [--url URL] [--fast] [--instances N]
//
// Three `nod serve` processes (--instances N) on one PostgreSQL database (server/cluster.ts):
//
// 1. Socket latency across instances: an agent's socket on instance 1; a
//    person's message POSTed through instance 1 (same instance) or instance 2
//    (its effects reach instance 1 by NOTIFY), one at a time. Prints, from the
//    POST being sent to the user_message frame arriving at the agent, p50/p99
//    for both, and the POST's own answer time. Target: cross-instance p99 < 50 ms.
// 2. The scheduler over three instances: `tasks` tasks on "* * * * *" for 100
//    agents, written straight into the database, all due at one slot a few
//    seconds ahead (the instances are poked as a commit's effects would).
//    Prints how late the runs were created after the slot (p50/p99/max), how
//    long all of them took, and whether any task ran twice.
//
// Without --url (or NOD_BENCH_DATABASE_URL) it starts its own cluster with
// scripts/pg-cluster.sh --durable; --fast starts it with fsync off.
import { SQL } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { benchPg } from "./pg.ts";
import { percentile, spawnServer } from "./lib.ts";
import { CHANNEL } from "../server/db/pg-fanout.ts";

const { values, positionals } = parseArgs({
  args: Bun.argv.slice(2),
  options: { fast: { type: "boolean", default: false }, url: { type: "string" }, instances: { type: "string", default: "3" } },
  allowPositionals: true,
});
const MESSAGES = Number(positionals[0] ?? 300);
const TASKS = Number(positionals[1] ?? 10_000);
const AGENTS = 100;
const INSTANCES = Math.max(2, Number(values.instances)); // the socket latency needs two
const root = path.resolve(import.meta.dir, "..");

const pg = await benchPg({ url: values.url, fast: values.fast });
const dbUrl = await pg.database();
const dbName = new URL(dbUrl).pathname.slice(1);
const sql = new SQL(dbUrl, { max: 4 });

const dirs: string[] = [];
const instances: Awaited<ReturnType<typeof spawnServer>>[] = [];
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

try {
  // One at a time: the first applies the migrations, the others find them applied.
  for (let i = 1; i <= INSTANCES; i++) {
    const dir = mkdtempSync(path.join(tmpdir(), "nod-bench-multi-"));
    dirs.push(dir);
    instances.push(
      await spawnServer([process.execPath, path.join(root, "server/main.ts"), "serve", "--database", dbUrl, "--port", "0", "--host", "127.0.0.1", "--data", dir, "--log-level", "warn", "--instance", `nod${i}`]),
    );
  }
  const [one, two] = instances.map((s) => s.url);
  const setup = await fetch(`${one}/api/auth/setup`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "bench", password: "correct horse battery" }) });
  if (setup.status !== 201) throw new Error(`setup: ${setup.status}`);
  const cookie = setup.headers.get("set-cookie")!.split(";")[0]!;
  const person = (url: string, p: string, body: unknown) =>
    fetch(url + p, { method: "POST", headers: { "content-type": "application/json", cookie, origin: url }, body: JSON.stringify(body) });
  console.log(`${INSTANCES} instances on ${dbName}; load average ${loadavg().map((l) => l.toFixed(1)).join(" ")}\n`);

  // ---- 1. socket latency ----
  const agent = (await (await person(one!, "/api/agents", { name: "Bench socket" })).json()) as { id: string; secret: string };
  const ws = new WebSocket(`${one!.replace("http", "ws")}/ws/agent/${agent.id}`);
  let arrived: ((id: string) => void) | null = null;
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", agent_id: agent.id, secret: agent.secret }));
    ws.onerror = () => reject(new Error("agent socket failed"));
    ws.onmessage = (e) => {
      const f = JSON.parse(String(e.data));
      if (f.type === "auth_ok") resolve();
      if (f.type === "user_message") arrived?.(f.text);
    };
  });
  await Bun.sleep(500); // the other instances hear of the socket
  async function latency(through: string, n: number) {
    const frame: number[] = [];
    const answer: number[] = [];
    for (let i = 0; i < n; i++) {
      const text = `m${i}-${Math.random()}`;
      const got = new Promise<void>((resolve) => (arrived = (t) => t === text && resolve()));
      const t0 = performance.now();
      const res = await person(through, `/api/agents/${agent.id}/messages`, { text });
      answer.push(performance.now() - t0);
      if (res.status !== 201) throw new Error(`message: ${res.status}`);
      await got;
      frame.push(performance.now() - t0);
    }
    frame.sort((a, b) => a - b);
    answer.sort((a, b) => a - b);
    return { frame, answer };
  }
  await latency(one!, 20); // warm up
  for (const [label, url] of [["same instance (POST to 1)", one!], ["across instances (POST to 2)", two!]] as const) {
    const { frame, answer } = await latency(url, MESSAGES);
    console.log(
      `${label.padEnd(30)} POST → frame p50 ${fmt(percentile(frame, 50))}  p99 ${fmt(percentile(frame, 99))}   (POST answered p50 ${fmt(percentile(answer, 50))}  p99 ${fmt(percentile(answer, 99))})`,
    );
  }
  ws.close();

  // ---- 2. the scheduler over three instances ----
  const agentIds: string[] = [];
  for (let i = 0; i < AGENTS; i++) agentIds.push(((await (await person(two!, "/api/agents", { name: `Bench ${i}` })).json()) as { id: string }).id);
  const slotMs = Math.ceil((Date.now() + 6_000) / 1000) * 1000;
  const slot = new Date(slotMs).toISOString();
  const at = new Date().toISOString();
  for (let i = 0; i < TASKS; i += 1000) {
    const rows = Array.from({ length: Math.min(1000, TASKS - i) }, (_, j) => ({
      id: `tsk_bench${String(i + j).padStart(6, "0")}`,
      agent_id: agentIds[(i + j) % AGENTS]!,
      name: `Task ${i + j}`,
      prompt: "Check the thing.",
      schedule: "* * * * *",
      trigger_type: "scheduled",
      timezone: "UTC",
      enabled: true,
      next_run_at: slot,
      created_at: at,
      updated_at: at,
    }));
    await sql`INSERT INTO tasks ${sql(rows)}`;
  }
  // What a commit that changed tasks tells the instances (server/db/pg-fanout.ts): their schedulers look again.
  await sql`SELECT pg_notify(${CHANNEL}, ${JSON.stringify({ from: "bench", e: { tasks: 1 } })})`;
  const end = slotMs + 60_000;
  let n = 0;
  while (Date.now() < end) {
    [{ n }] = await sql`SELECT count(*)::int AS n FROM task_runs WHERE trigger = 'schedule'`;
    if (n >= TASKS) break;
    await Bun.sleep(100);
  }
  const allMs = Date.now() - slotMs;
  const runs: { task_id: string; created_at: string }[] = await sql`SELECT task_id, created_at FROM task_runs WHERE trigger = 'schedule'`;
  const lateness = runs.map((r) => Date.parse(r.created_at) - slotMs).sort((a, b) => a - b);
  const twice = runs.length - new Set(runs.map((r) => r.task_id)).size;
  console.log(
    `\nscheduler, ${TASKS} tasks due at one slot over ${INSTANCES} instances: ${runs.length} runs (${twice} tasks ran twice), lateness p50 ${fmt(percentile(lateness, 50))}  p99 ${fmt(percentile(lateness, 99))}  max ${fmt(lateness.at(-1) ?? NaN)}; all created within ${fmt(allMs)} of the slot`,
  );
} finally {
  for (const s of instances) {
    s.proc.kill("SIGTERM");
    await s.proc.exited;
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await sql.close();
  await pg.close();
}
