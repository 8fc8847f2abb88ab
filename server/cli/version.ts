// nod version — the version and the commit the binary was built from.
import { VERSION, COMMIT } from "../version.ts";
import { parseArgs, UsageError } from "./args.ts";

export const VERSION_HELP = `Usage: nod version

Print nod's version and the commit it was built from ("dev" when run from a checkout).
`;

export async function version(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs(argv, { help: { type: "boolean", short: "h" } });
  if (flags.help) return void process.stdout.write(VERSION_HELP), 0;
  if (positional.length) throw new UsageError(`unexpected argument: ${positional[0]}`);
  process.stdout.write(`nod ${VERSION} (${COMMIT})\n`);
  return 0;
}
