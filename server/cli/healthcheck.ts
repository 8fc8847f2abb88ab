// nod healthcheck (not listed in the help) — exits 0 when GET /healthz answers
// 200. For the Docker HEALTHCHECK: the runtime image has no curl.
import { parseArgs, UsageError } from "./args.ts";

export const HEALTHCHECK_HELP = `Usage: nod healthcheck [--url URL]

Exit 0 when the server answers GET /healthz with 200, else 1.

Flags:
  --url URL    what to check (default http://127.0.0.1:$NOD_PORT/healthz, port 8000)
  -h, --help   show this help
`;

export async function healthcheck(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs(argv, { url: { type: "string" }, help: { type: "boolean", short: "h" } });
  if (flags.help) return void process.stdout.write(HEALTHCHECK_HELP), 0;
  if (positional.length) throw new UsageError(`unexpected argument: ${positional[0]}`);
  const url = flags.url ?? `http://127.0.0.1:${process.env.NOD_PORT || 8000}/healthz`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (res.status === 200) return 0;
    process.stderr.write(`nod healthcheck: ${url} answered ${res.status}\n`);
  } catch (e) {
    process.stderr.write(`nod healthcheck: ${url}: ${(e as Error).message}\n`);
  }
  return 1;
}
