// bun bench/store-ab.ts [rounds] [--mix] [--warm N] label=root …
//
// A/B of the write path between source trees (e.g. main exported with
// `git archive` to a temp dir with a node_modules symlink, against this one),
// for changes to the store (docs/scale.md, the async store seam). Each run is
// its own process, in process (no HTTP: the client's noise stays out): message
// events one after the other through handleAgentEvent, as one WebSocket with
// window 1 sends them; --mix follows each with a heartbeat naming the
// conversation (a read on ctx.db right after a commit). Reported per tree:
// server CPU µs per step (user+system of the whole process; steadier than wall
// time on a busy machine), the main thread's share of it (without the JIT
// compiler's and the collector's threads, which work through the first ~15,000
// steps: --warm 20000 measures past them), wall µs per step, and the statements
// run on ctx.db per step when it is a connection of its own. The order of the
// trees alternates each round.
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";

const STEPS = 2000;
const REPS = 5;
const TEXT = "Deployed **build #42** to staging; all checks passed.";

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)]!;

/** One tree, in this process: CPU and wall µs per step (medians of REPS), reads on ctx.db per step. */
async function one(root: string, mix: boolean, warm: number) {
  const { startServer } = await import(path.join(root, "server/app.ts"));
  const { makeConfig } = await import(path.join(root, "server/config.ts"));
  const { Logger } = await import(path.join(root, "server/lib/log.ts"));
  const { handleAgentEvent, WS_EVENT_TYPES } = await import(path.join(root, "server/events/service.ts"));
  const { knownAgent } = await import(path.join(root, "server/agents/service.ts"));
  const dir = mkdtempSync(path.join(tmpdir(), "nod-store-ab-"));
  const nod = await startServer(makeConfig({ port: 0, host: "127.0.0.1", logLevel: "error", dataDir: dir }), { log: new Logger("error") });
  try {
    const json = { "content-type": "application/json" };
    const setup = await fetch(nod.url + "/api/auth/setup", { method: "POST", headers: json, body: JSON.stringify({ username: "bench", password: "bench password" }) });
    const cookie = setup.headers.get("set-cookie")!.split(";")[0]!;
    const res = await fetch(nod.url + "/api/agents", { method: "POST", headers: { ...json, cookie }, body: JSON.stringify({ name: "Bench" }) });
    const ctx = nod.ctx;
    const agent = await knownAgent(ctx.db, ((await res.json()) as { id: string }).id);
    // Count the statements run on ctx.db when it is not the writer's connection.
    let reads = 0;
    const client = ctx.db.$client;
    if (ctx.writer.db?.$client && ctx.writer.db.$client !== client) {
      const count = (s: Record<string, (...a: unknown[]) => unknown>) => {
        for (const m of ["get", "all", "run", "values"]) {
          const f = s[m]!.bind(s);
          s[m] = (...a: unknown[]) => (reads++, f(...a));
        }
        return s;
      };
      for (const m of ["prepare", "query"] as const) {
        const f = client[m].bind(client);
        (client as unknown as Record<string, unknown>)[m] = (...a: [string]) => count(f(...a) as never);
      }
    }
    const message = { type: "message", text: TEXT };
    const first = await handleAgentEvent(ctx, agent, message, WS_EVENT_TYPES);
    const heartbeat = { type: "agent_heartbeat", conversation_id: first.conversation_id };
    const step = async () => {
      await handleAgentEvent(ctx, agent, message, WS_EVENT_TYPES);
      if (mix) await handleAgentEvent(ctx, agent, heartbeat, WS_EVENT_TYPES);
    };
    for (let i = 0; i < warm; i++) await step(); // warm-up
    reads = 0;
    const cpu: number[] = [];
    const main: number[] = [];
    const wall: number[] = [];
    for (let r = 0; r < REPS; r++) {
      const c0 = process.cpuUsage();
      const m0 = process.threadCpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < STEPS; i++) await step();
      wall.push(((performance.now() - t0) * 1000) / STEPS);
      const c = process.cpuUsage(c0);
      const m = process.threadCpuUsage(m0);
      cpu.push((c.user + c.system) / STEPS);
      main.push((m.user + m.system) / STEPS);
    }
    return { cpu: median(cpu), main: median(main), wall: median(wall), reads: reads / (STEPS * REPS) };
  } finally {
    await nod.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
if (args[0] === "--one") {
  console.log(JSON.stringify(await one(args[1]!, args[2] === "mix", Number(args[3]))));
  process.exit(0);
}
const mix = args.includes("--mix");
const warmAt = args.indexOf("--warm");
const warm = warmAt >= 0 ? Number(args[warmAt + 1]) : 500;
const rounds = Number(args.find((a, i) => /^\d+$/.test(a) && (warmAt < 0 || i !== warmAt + 1)) ?? 6);
const trees = args.filter((a) => a.includes("=")).map((a) => ({ label: a.split("=")[0]!, root: path.resolve(a.slice(a.indexOf("=") + 1)) }));
if (trees.length === 0) {
  console.error("usage: bun bench/store-ab.ts [rounds] [--mix] [--warm N] label=root …");
  process.exit(2);
}
const seen = new Map<string, { cpu: number[]; main: number[]; wall: number[]; reads: number; load: number[] }>();
for (let r = 0; r < rounds; r++) {
  for (const { label, root } of r % 2 ? [...trees].reverse() : trees) {
    const load = loadavg()[0]!;
    const proc = Bun.spawnSync(["bun", import.meta.path, "--one", root, mix ? "mix" : "plain", String(warm)], { stderr: "inherit" });
    const x = JSON.parse(proc.stdout.toString().trim().split("\n").pop()!) as { cpu: number; main: number; wall: number; reads: number };
    const s = seen.get(label) ?? { cpu: [], main: [], wall: [], reads: 0, load: [] };
    s.cpu.push(x.cpu), s.main.push(x.main), s.wall.push(x.wall), s.load.push(load), (s.reads = x.reads);
    seen.set(label, s);
    console.log(`round ${r} ${label}: cpu ${x.cpu.toFixed(0)} µs (main thread ${x.main.toFixed(0)}), wall ${x.wall.toFixed(0)} µs, load ${load.toFixed(1)}`);
  }
}
const span = (a: number[]) => `${median(a).toFixed(0)} [${Math.min(...a).toFixed(0)}–${Math.max(...a).toFixed(0)}]`;
for (const [label, s] of seen)
  console.log(`${label.padEnd(10)} CPU µs/step ${span(s.cpu)}   main thread ${span(s.main)}   wall µs/step ${span(s.wall)}   ctx.db statements/step ${s.reads.toFixed(2)}   load ${Math.min(...s.load).toFixed(1)}–${Math.max(...s.load).toFixed(1)}`);
