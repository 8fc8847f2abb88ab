// Runs the nod command line from the checkout (`bun run server/main.ts …`) as
// a separate process, the way scripts and hooks run it.
import path from "node:path";
import { GUARD_MS } from "./helpers.ts";

export const MAIN = path.resolve(import.meta.dir, "../server/main.ts");

export interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface NodProcess {
  proc: Bun.Subprocess<"pipe", "pipe", "pipe">;
  /** Standard output so far. */
  output(): string;
  /** Waits until standard output matches re; returns the match. */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Waits for the exit and collects the output. */
  done: Promise<Run>;
}

/** Starts `nod ARGS…`; env is added to a clean copy of this process's env (NOD_* removed). */
export function spawnNod(args: string[], opts: { env?: Record<string, string | undefined>; stdin?: string; cwd?: string; bin?: string } = {}): NodProcess {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("NOD_")));
  const proc = Bun.spawn(opts.bin ? [opts.bin, ...args] : [process.execPath, "run", MAIN, ...args], {
    cwd: opts.cwd,
    env: { ...base, ...opts.env } as Record<string, string>,
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  if (opts.stdin !== undefined) proc.stdin.write(opts.stdin);
  proc.stdin.end();
  let out = "";
  let changed = () => {}; // wakes waitForOutput when output arrives or stops
  const decoder = new TextDecoder();
  const stdoutDone = (async () => {
    for await (const chunk of proc.stdout) {
      out += decoder.decode(chunk, { stream: true });
      changed();
    }
    out += decoder.decode();
    changed();
  })();
  const done = (async () => {
    const [stderr, exitCode] = await Promise.all([new Response(proc.stderr).text(), proc.exited, stdoutDone]);
    return { exitCode, stdout: out, stderr };
  })();
  let exited = false;
  proc.exited.then(() => ((exited = true), changed()));
  return {
    proc,
    done,
    output: () => out,
    /** Resolves as soon as the output matches (a waiter woken by each chunk, not a poll). */
    async waitForOutput(re, timeoutMs = 10_000) {
      const end = Date.now() + Math.max(timeoutMs, GUARD_MS);
      for (;;) {
        const m = re.exec(out);
        if (m) return m;
        if (exited) {
          await stdoutDone;
          const last = re.exec(out);
          if (last) return last;
          const r = await done;
          throw new Error(`nod ${args[0]} exited ${r.exitCode} before printing ${re}: ${out}${r.stderr}`);
        }
        const left = end - Date.now();
        if (left <= 0) throw new Error(`nod ${args[0]} did not print ${re} within ${timeoutMs} ms: ${out}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          changed = () => (clearTimeout(timer), resolve());
        });
      }
    },
  };
}

export const runNod = (args: string[], opts: Parameters<typeof spawnNod>[1] = {}) => spawnNod(args, opts).done;

/** The env an agent command needs. */
export const agentEnvFor = (url: string, agent: { id: string; secret: string }, extra: Record<string, string> = {}) => ({
  NOD_API_URL: url,
  NOD_AGENT_ID: agent.id,
  NOD_SECRET: agent.secret,
  ...extra,
});
