// bun bench/person-agent.ts [seconds=5] [rates=200,1000]
//
// Person → agent: a signed-in person writes to an agent (POST
// /api/agents/:id/messages) or answers its request (POST
// /api/decisions/:id/respond), and the agent gets the event over its
// WebSocket. Open loop at each rate for `seconds`, against a nod server
// running as its own process on loopback. Prints per rate and kind:
//   - latency from the person's POST to the frame on the agent's socket (p50/p99/max);
//   - the server's CPU time per event (user + system from /proc, over the run:
//     everything the server did for it, the delivery and its "delivered" mark included).
// Targets: server CPU ≤ 0.15 ms per event, p99 < 20 ms.
// NOD_ROOT=/path/to/other/checkout runs another version of the server (before/after).
// BENCH_BUN_FLAGS="--cpu-prof-md --cpu-prof-dir=prof" profiles the server.
// Also a section of bench/all.ts (figures()).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { fmtMs, percentile, postOpenLoop, spawnServer, type Figure } from "./lib.ts";

const root = process.env.NOD_ROOT ?? path.resolve(import.meta.dir, "..");
const TICKS = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s

/** The server's CPU time in ms: user and system (every thread of the process). */
function cpuMs(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: (Number(f[11]) * 1000) / TICKS, sys: (Number(f[12]) * 1000) / TICKS }; // utime, stime (fields 14 and 15)
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return { body: (await r.json()) as any, headers: r.headers };
}

/** The agent's socket: calls onEvent with each delivered event's key (the message text, or the decision id). */
function agentSocket(base: string, agent: { id: string; secret: string }, onEvent: (key: string, at: number) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace(/^http/, "ws")}/ws/agent/${agent.id}`);
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", agent_id: agent.id, secret: agent.secret }));
    ws.onmessage = (e) => {
      const at = performance.now();
      const f = JSON.parse(String(e.data));
      if (f.type === "auth_ok") resolve(ws);
      else if (f.type === "user_message") onEvent(f.text, at);
      else if (f.type === "decision_resolved") onEvent(f.decision_id, at);
      else if (f.type === "ack" && f.decision_id) onEvent("ack:" + f.request_id, at);
    };
    ws.onerror = () => reject(new Error("agent socket failed"));
  });
}

type Kind = "message" | "answer";

async function run(base: string, pid: number, cookie: string, agent: { id: string; secret: string }, kind: Kind, rate: number, seconds: number) {
  const total = Math.round(rate * seconds);
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const acks = new Map<string, (id: string) => void>();
  const ws = await agentSocket(base, agent, (key, at) => {
    const t = sentAt.get(key);
    if (t !== undefined) {
      latencies.push(at - t);
      sentAt.delete(key);
    }
  });
  // Requests to answer: made up front by the agent (over its socket), not measured.
  let decisions: string[] = [];
  if (kind === "answer") {
    const ids: Promise<string>[] = [];
    ws.addEventListener("message", (e) => {
      const f = JSON.parse(String(e.data));
      if (f.type === "ack" && f.decision_id) acks.get(String(f.request_id))?.(f.decision_id);
      else if (f.type === "error") throw new Error(`request refused: ${f.detail}`);
    });
    for (let i = 0; i < total; i++) {
      ids.push(new Promise((resolve) => acks.set(String(i), resolve)));
      ws.send(JSON.stringify({ type: "decision", kind: "approval", title: `Deploy ${i}?`, description: "", request_id: i }));
      if (i % 500 === 499) await Bun.sleep(20);
    }
    decisions = await Promise.all(ids);
  }
  const headers = { "content-type": "application/json", cookie };
  let errors = 0;
  const inflight: Promise<void>[] = [];
  await Bun.sleep(300);
  const cpu0 = cpuMs(pid);
  const t0 = performance.now();
  for (let i = 0; i < total; ) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
    for (; i < due; i++) {
      let url: string;
      let body: unknown;
      if (kind === "message") {
        const text = `bench ${rate} ${i}`;
        sentAt.set(text, performance.now());
        url = `${base}/api/agents/${agent.id}/messages`;
        body = { text };
      } else {
        const id = decisions[i]!;
        sentAt.set(id, performance.now());
        url = `${base}/api/decisions/${id}/respond`;
        body = { status: "approved", note: "ok" };
      }
      inflight.push(postOpenLoop(url, headers, body, () => void errors++));
    }
    await Bun.sleep(1);
  }
  await Promise.all(inflight);
  const end = Date.now() + 5000;
  while (latencies.length < total && Date.now() < end) await Bun.sleep(5);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu1 = cpuMs(pid);
  const user = cpu1.user - cpu0.user;
  const sys = cpu1.sys - cpu0.sys;
  const cpu = user + sys;
  ws.close();
  latencies.sort((a, b) => a - b);
  return { total, got: latencies.length, errors, elapsed, cpuPerEvent: cpu / total, userPerEvent: user / total, sysPerEvent: sys / total, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? NaN };
}

type Result = Awaited<ReturnType<typeof run>> & { kind: Kind; rate: number };
const met = (r: Result) => r.cpuPerEvent <= 0.15 && r.p99 < 20;

/** Starts nod in its own process, warms it up, and measures each kind at each rate for `seconds`. */
export async function measure(opts: { seconds?: number; rates?: number[]; kinds?: Kind[] } = {}): Promise<Result[]> {
  const seconds = Math.min(30, opts.seconds ?? 5);
  const dir = mkdtempSync(path.join(tmpdir(), "nod-person-agent-"));
  const results: Result[] = [];
  try {
    const nod = await spawnServer(["bun", ...(process.env.BENCH_BUN_FLAGS ?? "").split(" ").filter(Boolean), path.join(root, "server/main.ts"), "serve", "--port", "0", "--host", "127.0.0.1", "--data", dir, "--log-level", "warn"]);
    try {
      const base = nod.url;
      const setup = await post(base + "/api/auth/setup", { username: "bench", password: "bench password" });
      const cookie = setup.headers.get("set-cookie")!.split(";")[0]!;
      const agent = (await post(base + "/api/agents", { name: "Listener" }, { cookie })).body as { id: string; secret: string };
      await run(base, nod.proc.pid, cookie, agent, "message", 200, 1); // warm-up, not reported
      await run(base, nod.proc.pid, cookie, agent, "answer", 200, 1);
      for (const kind of opts.kinds ?? ["message", "answer"])
        for (const rate of opts.rates ?? [200, 1000]) results.push({ kind, rate, ...(await run(base, nod.proc.pid, cookie, agent, kind, rate, seconds)) });
    } finally {
      nod.proc.kill("SIGTERM");
      await nod.proc.exited;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

/** The person → agent figures for bench/all.ts: server CPU per event and latency, per kind and rate. */
export async function figures(opts: { seconds?: number } = {}): Promise<Figure[]> {
  const section = "person-to-agent";
  const what = { message: "person's message", answer: "answer to a request" };
  return (await measure({ seconds: opts.seconds })).flatMap((r) => {
    const at = `${what[r.kind]} at ${r.rate.toLocaleString("en")}/s`;
    return [
      { section, what: `${at}: server CPU per event`, value: `${r.cpuPerEvent.toFixed(3)} ms (user ${r.userPerEvent.toFixed(3)}, system ${r.sysPerEvent.toFixed(3)})`, target: "≤ 0.15 ms", met: r.cpuPerEvent <= 0.15 },
      {
        section,
        what: `${at}: POST to the agent's socket`,
        value: `p50 ${fmtMs(r.p50)}, p99 ${fmtMs(r.p99)}, max ${fmtMs(r.max)} (${r.got}/${r.total} delivered${r.errors ? `, ${r.errors} errors` : ""})`,
        target: "p99 < 20 ms",
        met: r.p99 < 20,
      },
    ];
  });
}

if (import.meta.main) {
  const kinds = (process.env.BENCH_KINDS ?? "message,answer").split(",") as Kind[];
  console.log(`person → agent over its WebSocket — loopback, ${navigator.hardwareConcurrency} cores, bun ${Bun.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  const results = await measure({ seconds: Number(process.argv[2] ?? 5), rates: (process.argv[3] ?? "200,1000").split(",").map(Number), kinds });
  for (const r of results)
    console.log(
      `   ${r.kind.padEnd(7)} ${String(r.rate).padStart(5)}/s: server CPU ${r.cpuPerEvent.toFixed(3)} ms/event (user ${r.userPerEvent.toFixed(3)}, system ${r.sysPerEvent.toFixed(3)})   p50 ${r.p50.toFixed(2)} ms   p99 ${r.p99.toFixed(2)} ms   max ${r.max.toFixed(1)} ms` +
        `   (${r.got}/${r.total} delivered in ${r.elapsed.toFixed(1)} s, ${r.errors} errors)   target ≤ 0.15 ms and p99 < 20 ms: ${met(r) ? "met" : "MISSED"}`,
    );
}
