// nod user add NAME — the password is read from stdin (one line).
import { openStore } from "../db/store.ts";
import { createUser } from "../auth/service.ts";
import { HttpError } from "../lib/errors.ts";
import { parseArgs, UsageError } from "./args.ts";
import { databaseUrlFrom, dataDirFrom, storeFailure } from "./serve.ts";

export const USER_HELP = `Usage: nod user add NAME [--data DIR | --database URL]

Create a person who can sign in to the inbox. The password is read from
standard input, e.g.  echo 'a long password' | nod user add alice

Flags:
  --data DIR       data directory (NOD_DATA_DIR, default ./nod-data)
  --database URL   the postgres:// URL nod serve was given: add the person to
                   that PostgreSQL database instead of SQLite in --data
                   (NOD_DATABASE_URL)
  -h, --help       show this help
`;

export async function readStdin(): Promise<string> {
  return await new Response(Bun.stdin.stream()).text();
}

export async function user(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs(argv, { data: { type: "string" }, database: { type: "string" }, help: { type: "boolean", short: "h" } });
  if (flags.help) {
    process.stdout.write(USER_HELP);
    return 0;
  }
  const [sub, name, ...rest] = positional;
  if (sub !== "add") throw new UsageError(sub ? `unknown user command: ${sub}` : "missing user command (add)");
  if (!name) throw new UsageError("missing NAME");
  if (rest.length) throw new UsageError(`unexpected argument: ${rest[0]}`);
  const databaseUrl = databaseUrlFrom(flags);
  const password = (await readStdin()).replace(/\r?\n$/, "");
  const store = await openStore({ dataDir: dataDirFrom(flags), databaseUrl }).catch(storeFailure);
  try {
    const u = await createUser(store.writer.db, name, password);
    process.stdout.write(`created user ${u.username}\n`);
    return 0;
  } catch (e) {
    if (e instanceof HttpError) {
      process.stderr.write(`nod: ${e.detail}\n`);
      return 1;
    }
    throw e;
  } finally {
    await store.close();
  }
}
