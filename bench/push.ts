// bun bench/push.ts [requests-per-size]
//
// Web Push from a nod server running as its own process on loopback to a
// stand-in push service in this process (answers 201; one push per size is
// decrypted to check it). For 1, 100 and 1,000 subscribed devices (all on one
// push service, the common case of one vendor's phones):
//  1. latency from an agent's request (the POST that commits it; timed from
//     before it is sent) to each push POST arriving at the push service,
//     p50/p99 over every push, one request at a time;
//  2. throughput: a burst of requests, pushes per second from the first
//     request sent to the last push received;
//  3. nod's CPU time per push (user+system of the server process over the burst).
// Target: p99 under 1 s at 100 devices.
import { createECDH, randomBytes, type ECDH } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as ece from "http_ece";
import { percentile, spawnServer } from "./lib.ts";

const PER_SIZE = Math.max(3, Math.min(50, Number(process.argv[2] ?? 10)));
const SIZES = [1, 100, 1000];
const root = path.resolve(import.meta.dir, "..");
const CLK_TCK = 100; // Linux USER_HZ

/** utime + stime of a process, in ms. */
function cpuMs(pid: number) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

async function call(url: string, method: string, body: unknown, headers: Record<string, string>) {
  const r = await fetch(url, { method, headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`${method} ${url}: ${r.status} ${await r.text()}`);
  return (await r.json()) as any;
}

// ---- the stand-in push service: one phase at a time, every arrival goes in `bucket` ----
let bucket: number[] = []; // arrival times (performance.now()) in the current phase
let want = Infinity;
let filled: () => void = () => {};
const keys = new Map<string, { ecdh: ECDH; auth: string }>();
let verified = 0;
const pushService = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const body = new Uint8Array(await req.arrayBuffer());
    bucket.push(performance.now());
    if (bucket.length === 1) {
      // One push per phase is decrypted: the bench times real, readable pushes.
      const dev = keys.get(new URL(req.url).pathname.slice("/push/".length))!;
      const p = JSON.parse(ece.decrypt(Buffer.from(body), { version: "aes128gcm", privateKey: dev.ecdh, authSecret: dev.auth }).toString());
      if (!p.decision_id) throw new Error("a push without decision_id");
      verified++;
    }
    if (bucket.length >= want) filled();
    return new Response(null, { status: 201 });
  },
});

/** Runs `send` with a fresh bucket and resolves once `n` pushes arrived. */
async function phase(n: number, send: () => Promise<unknown>) {
  bucket = [];
  want = n;
  const done = new Promise<void>((resolve) => (filled = resolve));
  await send();
  if (bucket.length >= n) filled();
  await done;
  want = Infinity;
  return bucket;
}

async function run(size: number) {
  const dir = mkdtempSync(path.join(tmpdir(), "nod-pushbench-"));
  const { proc, url } = await spawnServer(
    [process.execPath, path.join(root, "server/main.ts"), "serve", "--port", "0", "--host", "127.0.0.1", "--data", dir, "--log-level", "warn"],
    {},
  );
  try {
    const setup = await fetch(`${url}/api/auth/setup`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "bench", password: "bench-password" }) });
    const cookie = setup.headers.get("set-cookie")!.split(";")[0]!;
    const agent = await call(`${url}/api/agents`, "POST", { name: "Bench Bot", type: "approval_only" }, { cookie });
    // At most 50 devices per person: 1,000 devices are a team of 20 people (made with `nod user add`).
    const cookies = [cookie];
    for (let p = 1; p < Math.ceil(size / 50); p++) {
      const add = Bun.spawn([process.execPath, path.join(root, "server/main.ts"), "user", "add", `person${p}`, "--data", dir], { stdin: new Blob(["bench-password\n"]), stdout: "ignore", stderr: "inherit" });
      if ((await add.exited) !== 0) throw new Error("nod user add failed");
      const login = await fetch(`${url}/api/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: `person${p}`, password: "bench-password" }) });
      cookies.push(login.headers.get("set-cookie")!.split(";")[0]!);
    }
    for (let i = 0; i < size; i++) {
      const ecdh = createECDH("prime256v1");
      ecdh.generateKeys();
      const auth = randomBytes(16).toString("base64url");
      const name = `${size}-${i}`;
      keys.set(name, { ecdh, auth });
      const device = { endpoint: `http://127.0.0.1:${pushService.port}/push/${name}`, keys: { p256dh: ecdh.getPublicKey("base64url"), auth }, name };
      await call(`${url}/api/push/subscriptions`, "POST", device, { cookie: cookies[Math.floor(i / 50)]! });
    }
    const agentHeaders = { "x-nod-agent-id": agent.id, "x-nod-secret": agent.secret };
    const ask = (title: string) => call(`${url}/api/agent/events`, "POST", { type: "decision", kind: "approval", title, description: "bench" }, agentHeaders);

    // 1. latency, one request at a time (the first is a warm-up)
    const latencies: number[] = [];
    for (let i = 0; i <= PER_SIZE; i++) {
      let t0 = 0;
      const got = await phase(size, () => ((t0 = performance.now()), ask(`latency ${i}`)));
      if (i > 0) for (const at of got) latencies.push(at - t0);
    }
    latencies.sort((a, b) => a - b);

    // 2 and 3. a burst: PER_SIZE requests at once
    const pushes = size * PER_SIZE;
    const cpu0 = cpuMs(proc.pid);
    const t0 = performance.now();
    const got = await phase(pushes, () => Promise.all(Array.from({ length: PER_SIZE }, (_, i) => ask(`burst ${i}`))));
    const seconds = (Math.max(...got) - t0) / 1000;
    await Bun.sleep(300); // the last pushes' bookkeeping counts too
    const cpu = cpuMs(proc.pid) - cpu0;
    console.log(
      `${String(size).padStart(5)} devices   commit→push p50 ${percentile(latencies, 50).toFixed(1).padStart(6)} ms   p99 ${percentile(latencies, 99).toFixed(1).padStart(6)} ms` +
        `   burst ${(pushes / seconds).toFixed(0).padStart(5)} pushes/s   CPU ${((cpu * 1000) / pushes).toFixed(0).padStart(4)} µs/push   (${latencies.length} pushes timed, ${pushes} in the burst)`,
    );
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`nod Web Push: ${PER_SIZE} requests per size, a stand-in push service on loopback`);
for (const size of SIZES) await run(size);
console.log(`${verified} pushes decrypted and checked (the first of each phase)`);
pushService.stop(true);
