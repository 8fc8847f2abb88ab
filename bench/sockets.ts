// bun bench/sockets.ts [limit]
// Idle agent sockets up to the open-file limit, against nod in its own process
// under `ulimit -n LIMIT` (default: the hard limit): one agent per socket, opened
// until nod refuses them (503, --fd-headroom short of the limit). Prints the
// sockets held, resident memory per idle socket, nod's CPU while idle there,
// /healthz latency over new connections at the limit, and that a socket
// already open still gets a person's message. Then, at a small limit, what
// happens when descriptors really run out: nod with --fd-headroom 0 (only the
// accept drain) and a bare Bun.serve (Bun on its own).
// Targets: /healthz < 100 ms at the limit; ~2–3 KiB per idle socket.
// Also a section of bench/all.ts.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { openDb, closeDb } from "../server/db/index.ts";
import { newAgentId, newAgentSecret, newWebhookSecret } from "../server/lib/ids.ts";
import { sha256hex } from "../server/lib/secrets.ts";
import { readFdLimit } from "../server/ops/fd-limit.ts";
import { cpuPercent, fmtMs, freshGet, percentile, printFigures, rssKiB, spawnServer, type Figure } from "./lib.ts";

const root = path.resolve(import.meta.dir, "..");
const SMALL_LIMIT = 1024; // for the runs that exhaust the descriptors
const wsUrl = (base: string) => base.replace(/^http/, "ws");
const fdsOf = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

/** n agents written straight into a new database (nod is not running yet). */
function seedAgents(dir: string, n: number) {
  const db = openDb(dir);
  const now = new Date().toISOString();
  const agents: { id: string; secret: string }[] = [];
  const insert = db.$client.prepare(
    "INSERT INTO agents (id, name, type, secret_hash, webhook_secret, created_at, updated_at) VALUES (?, ?, 'interactive', ?, ?, ?, ?)",
  );
  db.$client.transaction(() => {
    for (let i = 0; i < n; i++) {
      const a = { id: newAgentId(), secret: newAgentSecret() };
      insert.run(a.id, `Idle ${i}`, sha256hex(a.secret), newWebhookSecret(), now, now);
      agents.push(a);
    }
  })();
  closeDb(db);
  return agents;
}

type Outcome = "ok" | "refused" | "hung";
/** Opens one authenticated agent socket; "hung" when nothing happens within timeoutMs. */
function openAgent(base: string, a: { id: string; secret: string }, timeoutMs = 5000): Promise<{ outcome: Outcome; ws: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${wsUrl(base)}/ws/agent/${a.id}`);
    const timer = setTimeout(() => resolve({ outcome: "hung", ws }), timeoutMs);
    const end = (outcome: Outcome) => {
      clearTimeout(timer);
      resolve({ outcome, ws });
    };
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", agent_id: a.id, secret: a.secret }));
    ws.onmessage = (e) => {
      if (String(e.data).includes('"auth_ok"')) end("ok");
    };
    ws.onclose = () => end("refused");
  });
}

/** Opens sockets in batches until some are refused or hang; returns the open ones. */
async function fill(base: string, agents: { id: string; secret: string }[], batch = 250, timeoutMs = 5000) {
  const open: WebSocket[] = [];
  let refused = 0;
  let hung = 0;
  for (let i = 0; i < agents.length && refused + hung === 0; i += batch) {
    const results = await Promise.all(agents.slice(i, i + batch).map((a) => openAgent(base, a, timeoutMs)));
    for (const r of results) {
      if (r.outcome === "ok") open.push(r.ws);
      else if (r.outcome === "refused") refused++;
      else hung++;
    }
  }
  return { open, refused, hung };
}

async function startNod(dir: string, limit: number, extra: string[] = []) {
  const main = path.join(root, "server/main.ts");
  const nod = await spawnServer([
    "sh",
    "-c",
    `ulimit -n ${limit} && exec bun "${main}" serve --port 0 --host 127.0.0.1 --data "${dir}" --log-level error --metrics-token bench ${extra.join(" ")}`,
  ]);
  return { ...nod, pid: nod.proc.pid }; // sh execs bun: the same pid
}

/** /healthz n times over new connections, measured from a process of its own (bench/probe.ts). */
async function healthz(base: string, n: number) {
  const probe = Bun.spawn(["bun", path.join(import.meta.dir, "probe.ts"), base + "/healthz", String(n)], { stdout: "pipe" });
  const { times, statuses } = JSON.parse(await new Response(probe.stdout).text()) as { times: number[]; statuses: number[] };
  const counts = new Map<number, number>();
  for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
  times.sort((a, b) => a - b);
  const seen = [...counts].map(([s, k]) => `${k}× ${s === -1 ? "no answer" : s === 0 ? "closed" : s}`).join(", ");
  return { p50: percentile(times, 50), p99: percentile(times, 99), max: times.at(-1)!, seen, allOk: counts.get(200) === n };
}

/** Up to the limit with the default headroom. */
async function atTheLimit(limit: number): Promise<Figure[]> {
  const section = `sockets (nod under ulimit -n ${limit})`;
  const dir = mkdtempSync(path.join(tmpdir(), "nod-bench-sockets-"));
  const agents = seedAgents(dir, limit);
  const nod = await startNod(dir, limit);
  const open: WebSocket[] = [];
  try {
    const json = { "content-type": "application/json" };
    const setup = await fetch(nod.url + "/api/auth/setup", { method: "POST", headers: json, body: JSON.stringify({ username: "bench", password: "bench password" }) });
    const cookie = setup.headers.get("set-cookie")!.split(";")[0]!;
    await Bun.sleep(1000);
    const rss0 = rssKiB(nod.pid);
    const fds0 = fdsOf(nod.pid);
    const t0 = performance.now();
    const filled = await fill(nod.url, agents);
    open.push(...filled.open);
    const openSecs = (performance.now() - t0) / 1000;
    await Bun.sleep(3000); // idle
    const rss1 = rssKiB(nod.pid);
    const fds1 = fdsOf(nod.pid);
    const cpu = await cpuPercent(nod.pid, 3000);
    const refusedUpgrade = await fetch(`${nod.url}/ws/agent/${agents.at(-1)!.id}`, {
      headers: { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" },
    });
    await refusedUpgrade.arrayBuffer();
    const h = await healthz(nod.url, 200);
    // A socket opened before still gets a person's message.
    const first = agents[0]!;
    const got = new Promise<number>((resolve) => {
      open[0]!.onmessage = (e) => String(e.data).includes('"user_message"') && resolve(performance.now());
    });
    const sentAt = performance.now();
    await fetch(`${nod.url}/api/agents/${first.id}/messages`, { method: "POST", headers: { ...json, cookie }, body: JSON.stringify({ text: "still there?" }) });
    const delivered = await Promise.race([got.then((t) => t - sentAt), Bun.sleep(5000).then(() => NaN)]);
    const perSocket = (rss1 - rss0) / Math.max(1, open.length);
    return [
      { section, what: "agent sockets held (one agent each)", value: `${open.length} in ${openSecs.toFixed(1)} s; then refused: ${filled.refused} (${filled.hung} hung)` },
      { section, what: "descriptors in nod", value: `${fds0} before, ${fds1} with the sockets (limit ${limit})` },
      { section, what: "resident memory", value: `${(rss0 / 1024).toFixed(1)} MiB before, ${(rss1 / 1024).toFixed(1)} MiB with the sockets` },
      { section, what: "memory per idle socket", value: `${perSocket.toFixed(1)} KiB`, target: "~2–3 KiB", met: perSocket <= 3.5 },
      { section, what: "nod CPU, idle at the limit", value: `${cpu.toFixed(1)} % of a core` },
      {
        section,
        what: "one more agent socket",
        value: `HTTP ${refusedUpgrade.status}, Retry-After ${refusedUpgrade.headers.get("retry-after")}`,
      },
      { section, what: "/healthz at the limit, 200 new connections", value: `p50 ${fmtMs(h.p50)}, p99 ${fmtMs(h.p99)}, max ${fmtMs(h.max)} (${h.seen})`, target: "< 100 ms", met: h.allOk && h.max < 100 },
      { section, what: "person → agent message on a socket opened before", value: Number.isNaN(delivered) ? "not delivered in 5 s" : `delivered in ${fmtMs(delivered)}` },
    ];
  } finally {
    for (const ws of open) ws.close();
    nod.proc.kill("SIGTERM");
    await nod.proc.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Past the limit: nod with no headroom (the accept drain alone) and a bare Bun.serve. */
async function pastTheLimit(): Promise<Figure[]> {
  const section = `descriptors exhausted (ulimit -n ${SMALL_LIMIT})`;
  const out: Figure[] = [];
  const dir = mkdtempSync(path.join(tmpdir(), "nod-bench-emfile-"));
  const agents = seedAgents(dir, SMALL_LIMIT + 100);
  try {
    for (const kind of ["nod --fd-headroom 0", "bare Bun.serve"] as const) {
      const server =
        kind === "bare Bun.serve"
          ? await spawnServer(["sh", "-c", `ulimit -n ${SMALL_LIMIT} && exec bun "${path.join(import.meta.dir, "bare-server.ts")}" "${dir}" nodb`]).then((s) => ({ ...s, pid: s.proc.pid }))
          : await startNod(dir, SMALL_LIMIT, ["--fd-headroom", "0"]);
      const open: WebSocket[] = [];
      try {
        const filled = kind === "bare Bun.serve" ? await fillBare(server.url, SMALL_LIMIT + 100) : await fill(server.url, agents, 100, 2000);
        open.push(...filled.open);
        await Bun.sleep(1000);
        const cpu = await cpuPercent(server.pid, 3000);
        const h = await freshGet(server.url + "/healthz", 3000);
        out.push({
          section,
          what: kind,
          value:
            `${filled.open.length} sockets, then ${filled.refused} refused, ${filled.hung} hung; CPU idle ${cpu.toFixed(0)} % of a core; ` +
            `a new /healthz: ${h.status === -1 ? "no answer in 3 s" : `HTTP ${h.status || "closed"} in ${fmtMs(h.ms)}`}`,
        });
      } finally {
        for (const ws of open) ws.close();
        server.proc.kill("SIGKILL");
        await server.proc.exited;
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

/** The bare server's sockets: /ws, any agent id. */
async function fillBare(base: string, n: number, batch = 100, timeoutMs = 2000) {
  const agents = Array.from({ length: n }, (_, i) => ({ id: `agt_${i}`, secret: "x" }));
  const open: WebSocket[] = [];
  let refused = 0;
  let hung = 0;
  for (let i = 0; i < n && refused + hung === 0; i += batch) {
    const results = await Promise.all(
      agents.slice(i, i + batch).map(
        (a) =>
          new Promise<{ outcome: Outcome; ws: WebSocket }>((resolve) => {
            const ws = new WebSocket(`${wsUrl(base)}/ws`);
            const timer = setTimeout(() => resolve({ outcome: "hung", ws }), timeoutMs);
            ws.onopen = () => ws.send(JSON.stringify({ type: "auth", agent_id: a.id, secret: a.secret }));
            ws.onmessage = () => (clearTimeout(timer), resolve({ outcome: "ok", ws }));
            ws.onclose = () => (clearTimeout(timer), resolve({ outcome: "refused", ws }));
          }),
      ),
    );
    for (const r of results) {
      if (r.outcome === "ok") open.push(r.ws);
      else if (r.outcome === "refused") refused++;
      else hung++;
    }
  }
  return { open, refused, hung };
}

/** The floor: a bare Bun.serve holding the same number of idle WebSockets. */
async function bareMemory(limit: number, n: number): Promise<Figure> {
  const dir = mkdtempSync(path.join(tmpdir(), "nod-bench-bare-"));
  const bare = await spawnServer(["sh", "-c", `ulimit -n ${limit} && exec bun "${path.join(import.meta.dir, "bare-server.ts")}" "${dir}" nodb`]);
  const open: WebSocket[] = [];
  try {
    await Bun.sleep(1000);
    const rss0 = rssKiB(bare.proc.pid);
    const filled = await fillBare(bare.url, n, 250, 5000);
    open.push(...filled.open);
    await Bun.sleep(3000);
    const perSocket = (rssKiB(bare.proc.pid) - rss0) / Math.max(1, open.length);
    return { section: `sockets (nod under ulimit -n ${limit})`, what: "bare Bun.serve, same number of idle WebSockets", value: `${perSocket.toFixed(1)} KiB per socket (${open.length} sockets)` };
  } finally {
    for (const ws of open) ws.close();
    bare.proc.kill("SIGKILL");
    await bare.proc.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function figures(opts: { limit?: number } = {}): Promise<Figure[]> {
  const own = readFdLimit();
  // The bench holds the other end of every socket: stay within its own limit.
  const limit = opts.limit ?? Math.min(own?.hard ?? 4096, own?.soft ?? 4096);
  const nod = await atTheLimit(limit);
  const held = Number(/^(\d+)/.exec(nod[0]!.value)?.[1] ?? 0);
  return [...nod, await bareMemory(limit, held), ...(await pastTheLimit())];
}

if (import.meta.main) printFigures(await figures({ limit: process.argv[2] ? Number(process.argv[2]) : undefined }));
