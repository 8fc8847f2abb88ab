// Shared bench helpers: spawn a server and wait for its ready line, run a
// closed-loop load with N concurrent workers, summarize latencies.
import type { Subprocess } from "bun";

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
