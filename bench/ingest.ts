// bun bench/ingest.ts [seconds]
// Message events per second over REST with 32 concurrent requests, p50/p99
// latency, against nod and against a bare Bun.serve + bun:sqlite insert of the
// same row; prints the ratio. Both servers run as their own processes.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { closedLoop, fmtLoad, spawnServer } from "./lib.ts";

const SECONDS = Number(process.argv[2] ?? 10);
const CONCURRENCY = 32;
const root = process.env.NOD_ROOT ?? path.resolve(import.meta.dir, ".."); // NOD_ROOT: another checkout (before/after)
const dir = mkdtempSync(path.join(tmpdir(), "nod-bench-"));
const body = JSON.stringify({ type: "message", text: "Deployed **build #42** to staging; all checks passed." });
/** A process's CPU time (user + system, all its threads) in ms: what a request costs the server, whoever else shares the machine. */
const cpuMs = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
};
const perRequest = (pid: number, run: () => Promise<import("./lib.ts").LoadResult>) => {
  const c0 = cpuMs(pid);
  return run().then((r) => ({ ...r, cpu: (cpuMs(pid) - c0) / r.requests }));
};

try {
  const nod = await spawnServer(["bun", path.join(root, "server/main.ts"), "serve", "--port", "0", "--host", "127.0.0.1", "--data", dir, "--log-level", "warn"]);
  const setup = await fetch(nod.url + "/api/auth/setup", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "bench", password: "bench password" }) });
  const cookie = setup.headers.get("set-cookie")!.split(";")[0]!;
  const agent = (await (await fetch(nod.url + "/api/agents", { method: "POST", headers: { "content-type": "application/json", cookie }, body: JSON.stringify({ name: "Bench" }) })).json()) as { id: string; secret: string };
  const headers = { "content-type": "application/json", "x-nod-agent-id": agent.id, "x-nod-secret": agent.secret };
  const sendNod = () => fetch(nod.url + "/api/agent/events", { method: "POST", headers, body });
  await closedLoop(CONCURRENCY, 1, sendNod); // warm-up
  const nodResult = await perRequest(nod.proc.pid, () => closedLoop(CONCURRENCY, SECONDS, sendNod));
  nod.proc.kill("SIGTERM");
  await nod.proc.exited;

  const bare = await spawnServer(["bun", path.join(import.meta.dir, "bare-server.ts"), dir]);
  const sendBare = () => fetch(bare.url + "/", { method: "POST", headers, body });
  await closedLoop(CONCURRENCY, 1, sendBare);
  const bareResult = await perRequest(bare.proc.pid, () => closedLoop(CONCURRENCY, SECONDS, sendBare));
  bare.proc.kill();
  await bare.proc.exited;

  console.log(`message events over REST, ${CONCURRENCY} concurrent requests, ${SECONDS} s each (${navigator.hardwareConcurrency} cores)`);
  console.log(fmtLoad("nod POST /api/agent/events", nodResult));
  console.log(fmtLoad("bare Bun.serve + insert", bareResult));
  console.log(`ratio nod / bare: ${(nodResult.rps / bareResult.rps).toFixed(2)} (target ≥ 1.5)`);
  // On a small machine the load generator shares the cores: the server's CPU per request shows what the ratio cannot.
  console.log(`server CPU per request: nod ${(nodResult.cpu * 1000).toFixed(0)} µs, bare ${(bareResult.cpu * 1000).toFixed(0)} µs (bare / nod ${(bareResult.cpu / nodResult.cpu).toFixed(2)})`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
