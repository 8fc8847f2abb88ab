// Shared bench helpers: spawn a server and wait for its ready line, run a
// closed-loop load with N concurrent workers, summarize latencies.
import type { Subprocess } from "bun";
import { readFileSync } from "node:fs";
import { loadavg, totalmem } from "node:os";

export async function spawnServer(cmd: string[], env: Record<string, string> = {}): Promise<{ proc: Subprocess; url: string }> {
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "inherit", env: { ...process.env, ...env } });
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let out = "";
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    out += new TextDecoder().decode(value);
    const m = /listening on (http:\/\/[^\s]+)/.exec(out);
    if (m) {
      reader.releaseLock();
      return { proc, url: m[1]!.replace("0.0.0.0", "127.0.0.1") };
    }
  }
  proc.kill();
  throw new Error(`server did not start: ${out}`);
}

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
}

/** An open-loop POST: its answer is read and dropped; a refused or failed one calls onError. */
export const postOpenLoop = (url: string, headers: Record<string, string>, body: unknown, onError: () => void) =>
  fetch(url, { method: "POST", headers, body: JSON.stringify(body) }).then(async (r) => {
    await r.arrayBuffer();
    if (!r.ok) onError();
  }, onError);

export const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** `concurrency` workers each send requests back to back for `seconds`. */
export async function closedLoop(concurrency: number, seconds: number, send: () => Promise<Response>): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const s = performance.now();
        const r = await send();
        await r.arrayBuffer();
        latencies.push(performance.now() - s);
        if (!r.ok) errors++;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { requests: latencies.length, errors, seconds: elapsed, rps: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

export const fmtLoad = (name: string, r: LoadResult) =>
  `${name.padEnd(28)} ${r.rps.toFixed(0).padStart(7)} req/s   p50 ${r.p50.toFixed(2)} ms   p99 ${r.p99.toFixed(2)} ms   (${r.requests} requests, ${r.errors} errors, ${r.seconds.toFixed(1)} s)`;

// ---- shared by bench/all.ts and its sections ----

/** One line of the results table: what was measured, its value, the target if there is one. */
export interface Figure {
  section: string;
  what: string;
  value: string;
  target?: string;
  met?: boolean;
}

/** The machine the figures come from: they mean little without it. */
export function machine() {
  let model = "unknown";
  try {
    model = /model name\s*:\s*(.+)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? model;
  } catch {}
  return {
    nproc: navigator.hardwareConcurrency,
    model,
    memGiB: totalmem() / 2 ** 30,
    load: loadavg().map((l) => l.toFixed(2)).join(" "),
    bun: Bun.version,
    date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
  };
}

/** Resident memory of a process, in KiB (Linux). */
export const rssKiB = (pid: number) => {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
};

/** user + system CPU time of a process, in ms (Linux, USER_HZ 100). */
export function cpuMs(pid: number) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** A process's CPU use over `ms` of wall time, in % of one core. */
export async function cpuPercent(pid: number, ms: number) {
  const c0 = cpuMs(pid);
  const t0 = performance.now();
  await Bun.sleep(ms);
  return ((cpuMs(pid) - c0) / (performance.now() - t0)) * 100;
}

/**
 * GET over a new TCP connection (fetch would reuse a kept-alive one, and the
 * question is whether a *new* connection is answered). Resolves with the
 * status (0: closed without an answer, -1: no answer within timeoutMs) and the time taken.
 */
export async function freshGet(url: string, timeoutMs = 3000): Promise<{ status: number; ms: number }> {
  const u = new URL(url);
  const t0 = performance.now();
  let text = "";
  const { promise, resolve } = Promise.withResolvers<number>();
  const timer = setTimeout(() => resolve(-1), timeoutMs);
  const done = () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0));
  let sock: Awaited<ReturnType<typeof Bun.connect>> | undefined;
  try {
    sock = await Bun.connect({
      hostname: u.hostname,
      port: Number(u.port),
      socket: {
        data: (_s, d) => {
          text += d.toString();
          if (/\r\n\r\n/.test(text)) done();
        },
        close: done,
        error: done,
      },
    });
    sock.write(`GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`);
  } catch {
    resolve(0);
  }
  const status = await promise;
  clearTimeout(timer);
  sock?.end();
  return { status, ms: performance.now() - t0 };
}

export const fmtMs = (ms: number) => (ms < 10 ? ms.toFixed(2) : ms.toFixed(1)) + " ms";

/** Prints figures as a table grouped by section (and, with markdown, as the table docs/performance.md keeps). */
export function printFigures(figures: Figure[], markdown = false) {
  if (markdown) {
    console.log("| section | what | figure | target |\n|---|---|---|---|");
    for (const f of figures) console.log(`| ${f.section} | ${f.what} | ${f.value} | ${f.target ? `${f.target} ${f.met ? "(met)" : "(missed)"}` : ""} |`);
    return;
  }
  let section = "";
  for (const f of figures) {
    if (f.section !== section) console.log(`\n${(section = f.section)}`);
    const target = f.target ? `   target ${f.target}: ${f.met ? "met" : "MISSED"}` : "";
    console.log(`  ${f.what.padEnd(58)} ${f.value}${target}`);
  }
}
