// nod migrate — applies the embedded database migrations, then exits.
// (nod serve does the same at start; this is for upgrades run as a separate step.)
import { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import path from "node:path";
import { DB_FILE, openDb, closeDb } from "../db/index.ts";
import { parseArgs, UsageError } from "./args.ts";
import { dataDirFrom } from "./serve.ts";

export const MIGRATE_HELP = `Usage: nod migrate [--data DIR]

Create the database if it is missing and bring its schema up to date with
this version of nod. nod serve does this too when it starts; run it on its
own to upgrade ahead of a restart, or to check an upgrade on a backup copy.

Flags:
  --data DIR   data directory (NOD_DATA_DIR, default ./nod-data)
  -h, --help   show this help
`;

function applied(file: string): number {
  if (!existsSync(file)) return 0;
  const db = new Database(file, { readonly: true });
  try {
    const row = db.query("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number } | null;
    return row?.n ?? 0;
  } catch {
    return 0; // no migrations table yet
  } finally {
    db.close();
  }
}

export async function migrateCommand(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs(argv, { data: { type: "string" }, help: { type: "boolean", short: "h" } });
  if (flags.help) return void process.stdout.write(MIGRATE_HELP), 0;
  if (positional.length) throw new UsageError(`unexpected argument: ${positional[0]}`);
  const dir = dataDirFrom(flags);
  const file = path.join(dir, DB_FILE);
  const before = applied(file);
  closeDb(openDb(dir));
  const after = applied(file);
  const n = after - before;
  process.stdout.write(`${file}: ${n ? `applied ${n} migration${n === 1 ? "" : "s"}` : "already up to date"} (${after} in all)\n`);
  return 0;
}
