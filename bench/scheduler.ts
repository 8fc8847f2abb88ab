// bun bench/scheduler.ts [minutes=3] [tasks=10000] [agents=100]
// BENCH_REAL_TIME=1 bun bench/scheduler.ts 1   — the same on the unshifted clock
// (waits for real minute boundaries: up to a minute per minute measured).
//
// 10,000 enabled tasks on a one-minute cron ("* * * * *"), all due at the same
// instant each minute (the worst case). Prints, per minute: how late the runs
// were created after their slot (p50 / p99 / max, measured at the commit of
// each batch), the scheduler's own CPU-bound time, the whole process's CPU time
// (user + system, from 0.3 s before the slot until 0.2 s after the last run;
// includes the dispatcher's wake-ups, GC and this script's polling),
// and how long firing all of them took. Target: p99 lateness under 1 s.
//
// Time: the server runs on a clock that advances at real speed but is shifted
// forward before each minute, to 1.5 s before the next minute boundary. The
// timer, the firing and the lateness are all real; only the ~58 idle seconds
// between two boundaries are skipped (the scheduler sleeps through them, waking
// at most every 30 s to find nothing due), so 3 minutes take ~10 s.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { makeConfig } from "../server/config.ts";
import { startServer } from "../server/app.ts";
import { Logger } from "../server/lib/log.ts";
import { createAgent } from "../server/agents/service.ts";
import { createTask } from "../server/tasks/service.ts";

const MINUTES = Number(process.argv[2] ?? 3);
const TASKS = Number(process.argv[3] ?? 10_000);
const AGENTS = Number(process.argv[4] ?? 100);
const LEAD_MS = 1500;
const REAL = process.env.BENCH_REAL_TIME === "1";

const dir = mkdtempSync(path.join(tmpdir(), "nod-bench-sched-"));
let offset = 0;
let frozen: number | null = null; // while the tasks are created: they all get the same next slot
const clock = () => frozen ?? Date.now() + offset;
const nod = await startServer(makeConfig({ port: 0, host: "127.0.0.1", dataDir: dir, logLevel: "warn" }), { log: new Logger("warn"), now: clock });
const ctx = nod.ctx;
const scheduler = nod.live.scheduler;

/** The event loop thread's CPU time (the process's other threads — checkpoints, GC helpers — not counted). */
const threadCpu = (prev?: NodeJS.CpuUsage): NodeJS.CpuUsage =>
  (process as unknown as { threadCpuUsage?: (p?: NodeJS.CpuUsage) => NodeJS.CpuUsage }).threadCpuUsage?.(prev) ?? process.cpuUsage(prev);

const pct = (xs: number[], p: number) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const ms = (n: number) => `${n.toFixed(0).padStart(5)} ms`;

/** Jumps the clock to LEAD_MS before the next minute boundary; returns that boundary. */
function jumpToBeforeNextMinute(): number {
  if (REAL) return Math.ceil((clock() + 1) / 60_000) * 60_000;
  const boundary = Math.ceil((clock() + LEAD_MS + 1) / 60_000) * 60_000;
  offset += boundary - LEAD_MS - clock();
  scheduler.poke(); // the clock moved: re-arm the timer
  return boundary;
}

try {
  // Park the clock well before a boundary so that creating the tasks cannot race one.
  if (!REAL) {
    const boundary0 = Math.ceil((clock() + 5_000) / 60_000) * 60_000;
    offset += boundary0 - 30_000 - clock();
  } else if (60_000 - (Date.now() % 60_000) < 10_000) await Bun.sleep(11_000); // not across a boundary while creating
  const t0 = performance.now();
  const agents = Array.from({ length: AGENTS }, (_, i) => createAgent(ctx, { name: `Bench ${i}` }, null).agent);
  // In one transaction (each createTask's own is a savepoint in it), on a clock stopped
  // meanwhile: 100,000 tasks take seconds, not minutes, and none can come due early.
  frozen = clock();
  ctx.db.$client.transaction(() => {
    for (let i = 0; i < TASKS; i++) createTask(ctx, agents[i % AGENTS]!, { name: `Task ${i}`, prompt: "Check the thing.", schedule: "* * * * *" });
  })();
  const stoppedAt = frozen;
  frozen = null;
  offset += stoppedAt - clock(); // time goes on from where it stopped
  console.log(`created ${TASKS} tasks for ${AGENTS} agents in ${(performance.now() - t0).toFixed(0)} ms (${navigator.hardwareConcurrency} cores, bun ${Bun.version})`);

  let lateness: number[] = [];
  scheduler.observe = (l) => lateness.push(...l);
  const rows: string[] = [];
  const allP99: number[] = [];
  for (let m = 1; m <= MINUTES; m++) {
    lateness = [];
    const boundary = jumpToBeforeNextMinute();
    const idle = boundary - 300 - clock();
    if (idle > 0) await Bun.sleep(idle); // CPU is measured from just before the slot
    const cpu0 = process.cpuUsage();
    const thread0 = threadCpu();
    const busy0 = scheduler.stats.busyMs;
    const fired0 = scheduler.stats.fired;
    while (scheduler.stats.fired - fired0 < TASKS) {
      if (clock() > boundary + 30_000) throw new Error(`minute ${m}: only ${scheduler.stats.fired - fired0} of ${TASKS} fired after 30 s`);
      await Bun.sleep(5);
    }
    const wall = clock() - boundary;
    await Bun.sleep(200); // let the dispatcher's wake-ups settle
    const cpu = process.cpuUsage(cpu0);
    const thread = threadCpu(thread0);
    const busy = scheduler.stats.busyMs - busy0;
    const p99 = pct(lateness, 99);
    allP99.push(p99);
    rows.push(
      `minute ${m}: ${lateness.length} runs | lateness p50 ${ms(pct(lateness, 50))}  p99 ${ms(p99)}  max ${ms(Math.max(...lateness))}` +
        ` | all fired ${ms(wall)} after the slot | scheduler CPU ${ms(busy)} | process CPU ${ms((cpu.user + cpu.system) / 1000)} (user ${((cpu.user) / 1000).toFixed(0)}, sys ${(cpu.system / 1000).toFixed(0)})` +
        ` | event loop thread ${((thread.user + thread.system) / lateness.length).toFixed(1)} µs CPU per run`,
    );
    console.log(rows[rows.length - 1]);
  }
  const runs = ctx.db.$client.query("SELECT count(*) AS n FROM task_runs").get() as { n: number };
  const events = ctx.db.$client.query("SELECT count(*) AS n FROM outbox WHERE type = 'task_due'").get() as { n: number };
  console.log(`runs in the database: ${runs.n}, task_due events: ${events.n} (expected ${TASKS * MINUTES} each)`);
  const worst = Math.max(...allP99);
  console.log(`worst p99 lateness ${worst.toFixed(0)} ms — target < 1000 ms: ${worst < 1000 ? "met" : "MISSED"}`);
} finally {
  await nod.stop();
  rmSync(dir, { recursive: true, force: true });
}
