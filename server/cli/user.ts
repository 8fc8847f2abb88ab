// nod user add NAME — the password is read from stdin (one line).
import { openDb, closeDb } from "../db/index.ts";
import { createUser } from "../auth/service.ts";
import { HttpError } from "../lib/errors.ts";
import { parseArgs, UsageError } from "./args.ts";
import { dataDirFrom } from "./serve.ts";

export const USER_HELP = `Usage: nod user add NAME [--data DIR]

Create a person who can sign in to the inbox. The password is read from
standard input, e.g.  echo 'a long password' | nod user add alice

Flags:
  --data DIR   data directory (NOD_DATA_DIR, default ./nod-data)
  -h, --help   show this help
`;

export async function readStdin(): Promise<string> {
  return await new Response(Bun.stdin.stream()).text();
}

export async function user(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs(argv, { data: { type: "string" }, help: { type: "boolean", short: "h" } });
  if (flags.help) {
    process.stdout.write(USER_HELP);
    return 0;
  }
  const [sub, name, ...rest] = positional;
  if (sub !== "add") throw new UsageError(sub ? `unknown user command: ${sub}` : "missing user command (add)");
  if (!name) throw new UsageError("missing NAME");
  if (rest.length) throw new UsageError(`unexpected argument: ${rest[0]}`);
  const password = (await readStdin()).replace(/\r?\n$/, "");
  const db = openDb(dataDirFrom(flags));
  try {
    const u = await createUser(db, name, password);
    process.stdout.write(`created user ${u.username}\n`);
    return 0;
  } catch (e) {
    if (e instanceof HttpError) {
      process.stderr.write(`nod: ${e.detail}\n`);
      return 1;
    }
    throw e;
  } finally {
    closeDb(db);
  }
}
