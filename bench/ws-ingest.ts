// bun bench/ws-ingest.ts [seconds=5] [window=256]
//
// One agent WebSocket sending message events as fast as it is answered: the
// client keeps `window` frames unacknowledged, and counts acks per second.
// Every ack must come back in the order its frame was sent. Against a nod
// server running as its own process on loopback. Target: ≥ 15,000 acked frames/s.
// NOD_ROOT=/path/to/other/checkout runs another version of the server (before/after).
// BENCH_BUN_FLAGS="--cpu-prof-md --cpu-prof-dir=prof" profiles the server.
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { spawnServer } from "./lib.ts";

const SECONDS = Math.min(60, Number(process.argv[2] ?? 5));
const WINDOW = Number(process.argv[3] ?? 256);
const root = process.env.NOD_ROOT ?? path.resolve(import.meta.dir, "..");
const dir = mkdtempSync(path.join(tmpdir(), "nod-ws-ingest-"));

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return { body: (await r.json()) as any, headers: r.headers };
}

/** Sends for `seconds`; returns acks per second and whether they came back in order. */
function run(base: string, agent: { id: string; secret: string }, seconds: number): Promise<{ acks: number; rate: number; outOfOrder: number; errors: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace(/^http/, "ws")}/ws/agent/${agent.id}`);
    let sent = 0;
    let acked = 0;
    let errors = 0;
    let outOfOrder = 0;
    let t0 = 0;
    let end = 0;
    const frame = (i: number) => `{"type":"message","text":"Deployed **build #42** to staging; all checks passed.","request_id":${i}}`;
    const topUp = () => {
      while (sent - acked - errors < WINDOW && performance.now() < end) ws.send(frame(sent++));
    };
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", agent_id: agent.id, secret: agent.secret }));
    ws.onmessage = (e) => {
      const data = String(e.data);
      if (data.startsWith('{"type":"auth_ok"')) {
        t0 = performance.now();
        end = t0 + seconds * 1000;
        topUp();
        return;
      }
      const f = JSON.parse(data);
      if (f.type === "ack" || f.type === "error") {
        if (f.request_id !== acked + errors) outOfOrder++;
        if (f.type === "ack") acked++;
        else errors++;
        if (performance.now() < end) topUp();
        else if (acked + errors === sent) {
          const secs = (performance.now() - t0) / 1000;
          ws.close();
          resolve({ acks: acked, rate: acked / secs, outOfOrder, errors });
        }
      }
    };
    ws.onerror = () => reject(new Error("agent socket failed"));
  });
}

try {
  const nod = await spawnServer(["bun", ...(process.env.BENCH_BUN_FLAGS ?? "").split(" ").filter(Boolean), path.join(root, "server/main.ts"), "serve", "--port", "0", "--host", "127.0.0.1", "--data", dir, "--log-level", "warn"]);
  const setup = await post(nod.url + "/api/auth/setup", { username: "bench", password: "bench password" });
  const cookie = setup.headers.get("set-cookie")!.split(";")[0]!;
  const agent = (await post(nod.url + "/api/agents", { name: "Bench" }, { cookie })).body as { id: string; secret: string };
  console.log(`one agent WebSocket, message events, ${WINDOW} unacknowledged at most — loopback, ${navigator.hardwareConcurrency} cores, bun ${Bun.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  await run(nod.url, agent, 1); // warm-up
  const r = await run(nod.url, agent, SECONDS);
  console.log(
    `   ${r.rate.toFixed(0).padStart(6)} acked frames/s   (${r.acks} acks in ${SECONDS} s, ${r.errors} errors, ${r.outOfOrder} out of order)   target ≥ 15000/s: ${r.rate >= 15_000 ? "met" : "MISSED"}`,
  );
  nod.proc.kill("SIGTERM");
  await nod.proc.exited;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
