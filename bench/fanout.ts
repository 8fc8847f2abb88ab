// bun bench/fanout.ts [seconds] [sockets]
//
// Prints two figures for the real-time path, against a nod server running as
// its own process on loopback:
//  1. latency from an agent's REST POST (message event) to the frame on the
//     inbox socket(s), p50/p99, at 1,000 events/s (open loop), with 1, 10 and
//     100 inbox sockets open (the bench's own client decodes every frame, so
//     on a small machine the 100-socket figure measures the client as well);
//  2. how many idle authenticated agent sockets one process holds (default
//     10,000, one agent each), and the server's resident memory per socket.
// Targets: p99 under 10 ms; 10,000 sockets under 300 MB resident.
// Bounded: each latency run lasts `seconds` (default 5), socket count is capped at 15,000.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { percentile, postOpenLoop, spawnServer } from "./lib.ts";

const SECONDS = Math.min(30, Number(process.argv[2] ?? 5));
const SOCKETS = Math.min(15_000, Number(process.argv[3] ?? 10_000));
const RATE = 1000; // events per second

// Each socket is a file descriptor on both ends: re-run under the hard limit if the soft one is low.
if (!process.env.NOD_BENCH_CHILD) {
  const child = Bun.spawn(["sh", "-c", `ulimit -n $(ulimit -Hn) 2>/dev/null; exec "$0" "$@"`, process.execPath, import.meta.path, ...process.argv.slice(2)], {
    stdio: ["inherit", "inherit", "inherit"],
    env: { ...process.env, NOD_BENCH_CHILD: "1" },
  });
  process.exit(await child.exited);
}

const root = path.resolve(import.meta.dir, "..");
const dir = mkdtempSync(path.join(tmpdir(), "nod-fanout-"));
const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;
const wsUrl = (base: string) => base.replace(/^http/, "ws");

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return { body: (await r.json()) as any, headers: r.headers };
}

/** An inbox socket; onMessage gets the text of each message frame (found without parsing every frame: the client shares the CPU). */
function openInbox(base: string, cookie: string, onMessage: (text: string, at: number) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${wsUrl(base)}/ws/app`, { headers: { cookie } } as any);
    ws.onmessage = (e) => {
      const at = performance.now();
      const data = e.data as string;
      if (data.startsWith('{"type":"message"')) {
        const i = data.indexOf('"text":"bench ');
        if (i > 0) onMessage(data.slice(i + 8, data.indexOf('"', i + 8)), at);
      } else if (data.startsWith('{"type":"hello"')) resolve(ws);
    };
    ws.onerror = () => reject(new Error("inbox socket failed"));
  });
}

/** Sends RATE message events per second for SECONDS over REST and times each until every inbox socket got its frame. */
async function latencyRun(base: string, cookie: string, agent: { id: string; secret: string }, inboxes: number, seconds = SECONDS) {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let seen = 0;
  const sockets: WebSocket[] = [];
  for (let i = 0; i < inboxes; i++)
    sockets.push(
      await openInbox(base, cookie, (text, at) => {
        const t = sentAt.get(text);
        if (t !== undefined) {
          latencies.push(at - t);
          seen++;
        }
      }),
    );
  const headers = { "content-type": "application/json", "x-nod-agent-id": agent.id, "x-nod-secret": agent.secret };
  const total = RATE * seconds;
  let errors = 0;
  const inflight: Promise<void>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < total; ) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * RATE) + 1);
    for (; i < due; i++) {
      const text = `bench ${inboxes} ${i}`;
      sentAt.set(text, performance.now());
      inflight.push(postOpenLoop(`${base}/api/agent/events`, headers, { type: "message", text }, () => void errors++));
    }
    await Bun.sleep(1);
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - t0) / 1000;
  const want = total * inboxes;
  const end = Date.now() + 5000;
  while (seen < want && Date.now() < end) await Bun.sleep(5);
  for (const ws of sockets) ws.close();
  latencies.sort((a, b) => a - b);
  return { total, inboxes, elapsed, errors, frames: seen, want, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? NaN };
}

/** Opens n agent sockets, each authenticated, in batches; returns them once all got auth_ok. */
async function openAgentSockets(base: string, agents: { id: string; secret: string }[]) {
  const sockets: WebSocket[] = [];
  let failed = 0;
  const BATCH = 500;
  for (let i = 0; i < agents.length; i += BATCH) {
    await Promise.all(
      agents.slice(i, i + BATCH).map(
        (a) =>
          new Promise<void>((resolve) => {
            const ws = new WebSocket(`${wsUrl(base)}/ws/agent/${a.id}`);
            ws.onopen = () => ws.send(JSON.stringify({ type: "auth", agent_id: a.id, secret: a.secret }));
            ws.onmessage = (e) => {
              if (String(e.data).includes('"auth_ok"')) {
                sockets.push(ws);
                ws.onmessage = null;
                resolve();
              }
            };
            ws.onclose = () => {
              failed++;
              resolve();
            };
          }),
      ),
    );
  }
  return { sockets, failed };
}

try {
  const nod = await spawnServer(
    ["sh", "-c", `ulimit -n $(ulimit -Hn) 2>/dev/null; exec bun "${path.join(root, "server/main.ts")}" serve --port 0 --host 127.0.0.1 --data "${dir}" --log-level warn`],
  );
  const pid = nod.proc.pid; // sh execs bun, so this is the server's pid
  const base = nod.url;
  const setup = await post(base + "/api/auth/setup", { username: "bench", password: "bench password" });
  const cookie = setup.headers.get("set-cookie")!.split(";")[0]!;
  const speaker = (await post(base + "/api/agents", { name: "Speaker" }, { cookie })).body as { id: string; secret: string };

  console.log(`nod fan-out bench — loopback, ${navigator.hardwareConcurrency} cores, bun ${Bun.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")} (other work on the machine shows in the tails)`);
  console.log(`\n1. agent REST POST → inbox socket frame, ${RATE} events/s for ${SECONDS} s (open loop)`);
  await latencyRun(base, cookie, speaker, 1, 1); // warm-up, not reported
  for (const inboxes of [1, 10, 100]) {
    const r = await latencyRun(base, cookie, speaker, inboxes);
    console.log(
      `   ${String(inboxes).padStart(3)} inbox socket(s): p50 ${r.p50.toFixed(2)} ms   p99 ${r.p99.toFixed(2)} ms   max ${r.max.toFixed(1)} ms` +
        `   (${r.total} events in ${r.elapsed.toFixed(1)} s, ${r.frames}/${r.want} frames, ${r.errors} errors)   target p99 < 10 ms: ${r.p99 < 10 ? "met" : "MISSED"}`,
    );
  }

  console.log(`\n2. idle authenticated agent sockets (${SOCKETS}, one agent each)`);
  const agents: { id: string; secret: string }[] = [];
  const CONC = 32;
  for (let i = 0; i < SOCKETS; i += CONC)
    agents.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(CONC, SOCKETS - i) }, (_, k) => post(base + "/api/agents", { name: `Idle ${i + k}` }, { cookie }).then((r) => r.body)),
      )),
    );
  await Bun.sleep(1000);
  const before = rssMiB(pid);
  const t0 = performance.now();
  const { sockets, failed } = await openAgentSockets(base, agents);
  const openSecs = (performance.now() - t0) / 1000;
  await Bun.sleep(3000); // idle
  const after = rssMiB(pid);
  let online = 0; // GET /api/agents answers a page at a time: every page, ?before= the first of the last one
  for (let before = ""; ; ) {
    const page = (await (await fetch(`${base}/api/agents?limit=200${before && `&before=${before}`}`, { headers: { cookie } })).json()) as { id: string; online: boolean }[];
    online += page.filter((a) => a.online).length;
    if (page.length < 200) break;
    before = page[0]!.id;
  }
  const stillOpen = sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length;
  console.log(`   authenticated ${sockets.length} (${failed} failed) in ${openSecs.toFixed(1)} s; after 3 s idle: ${stillOpen} open, ${online} agents online per GET /api/agents`);
  console.log(`   server RSS: ${before.toFixed(1)} MiB before, ${after.toFixed(1)} MiB with the sockets open`);
  console.log(`   memory per socket: ${(((after - before) * 1024) / Math.max(1, sockets.length)).toFixed(1)} KiB   target < 300 MB total: ${after * 1.048576 < 300 ? "met" : "MISSED"} (${(after * 1.048576).toFixed(0)} MB)`);
  const r = await latencyRun(base, cookie, speaker, 1);
  console.log(
    `   with them open, agent POST → 1 inbox socket at ${RATE} events/s: p50 ${r.p50.toFixed(2)} ms   p99 ${r.p99.toFixed(2)} ms   (${r.frames}/${r.want} frames, ${r.errors} errors)`,
  );
  for (const ws of sockets) ws.close();
  nod.proc.kill("SIGTERM");
  await nod.proc.exited;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
