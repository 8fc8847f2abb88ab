// Runs the nod command line from the checkout (`bun run server/main.ts …`) as
// a separate process, the way scripts and hooks run it.
import path from "node:path";

export const MAIN = path.resolve(import.meta.dir, "../server/main.ts");

export interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface NodProcess {
  proc: Bun.Subprocess<"pipe", "pipe", "pipe">;
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
  const done = (async () => {
    const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { exitCode, stdout, stderr };
  })();
  return { proc, done };
}

export const runNod = (args: string[], opts: Parameters<typeof spawnNod>[1] = {}) => spawnNod(args, opts).done;

/** The env an agent command needs. */
export const agentEnvFor = (url: string, agent: { id: string; secret: string }, extra: Record<string, string> = {}) => ({
  NOD_API_URL: url,
  NOD_AGENT_ID: agent.id,
  NOD_SECRET: agent.secret,
  ...extra,
});
