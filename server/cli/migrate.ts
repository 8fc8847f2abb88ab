// nod migrate — applies the embedded database migrations, then exits.
// (nod serve does the same at start; this is for upgrades run as a separate step.)
// With --from-sqlite it copies a SQLite nod into PostgreSQL (from-sqlite.ts).
import { Database } from "bun:sqlite";
import { SQL } from "bun";
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { DB_FILE, openDb, closeDb } from "../db/index.ts";
import { describeDatabase, isPostgresUrl, migratePg } from "../db/pg-migrate.ts";
import { parseArgs, UsageError } from "./args.ts";
import { CliFailure } from "./client.ts";
import { copyFromSqlite, CopyRefused, type CopyReport } from "./from-sqlite.ts";
import { dataDirFrom } from "./serve.ts";

export const MIGRATE_HELP = `Usage: nod migrate [--data DIR]
       nod migrate --database URL
       nod migrate --from-sqlite FILE --database URL

Create the database if it is missing and bring its schema up to date with
this version of nod. nod serve does this too when it starts; run it on its
own to upgrade ahead of a restart, or to check an upgrade on a backup copy.
On PostgreSQL, instances that start together migrate once (an advisory lock).

--from-sqlite copies a whole SQLite nod into a PostgreSQL database with no
people or agents yet: every table, and the images in FILE's directory/media,
in one transaction (a failed copy writes nothing). It applies the PostgreSQL
migrations first. FILE is only read: it must be at this nod's schema (if it
is older, run 'nod migrate --data DIR' on it with this nod first). Stop nod
first, or copy a 'nod backup' of it (put the media folder beside the copy).

Flags:
  --data DIR            data directory (NOD_DATA_DIR, default ./nod-data)
  --database URL        a postgres:// or postgresql:// URL (NOD_DATABASE_URL)
  --from-sqlite FILE    a nod.db (or the data directory holding it) to copy
                        into --database
  -h, --help            show this help
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

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? "" : "s"}`;

export async function migrateCommand(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs(argv, {
    data: { type: "string" },
    database: { type: "string" },
    "from-sqlite": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (flags.help) return void process.stdout.write(MIGRATE_HELP), 0;
  if (positional.length) throw new UsageError(`unexpected argument: ${positional[0]}`);
  const url = flags.database ?? process.env.NOD_DATABASE_URL;
  const from = flags["from-sqlite"];
  if (from !== undefined && !url) throw new UsageError("--from-sqlite needs --database URL, the PostgreSQL database to copy into");
  if (flags.data !== undefined && flags.database !== undefined) throw new UsageError("give --data (SQLite) or --database (PostgreSQL), not both");
  if (!url) return migrateSqlite(dataDirFrom(flags));
  // Never echo the URL: it may hold a password.
  if (!isPostgresUrl(url) || !URL.canParse(url)) throw new UsageError("--database: not a postgres:// or postgresql:// URL");
  const client = new SQL(url, { max: 2 });
  try {
    if (from !== undefined) return await fromSqlite(from, url, client);
    const { applied, total } = await reach(url, () => migratePg(client));
    process.stdout.write(`${describeDatabase(url)}: ${applied ? `applied ${plural(applied, "migration")}` : "already up to date"} (${total} in all)\n`);
    return 0;
  } finally {
    await client.close();
  }
}

function migrateSqlite(dir: string): number {
  const file = path.join(dir, DB_FILE);
  const before = applied(file);
  closeDb(openDb(dir));
  const after = applied(file);
  const n = after - before;
  process.stdout.write(`${file}: ${n ? `applied ${plural(n, "migration")}` : "already up to date"} (${after} in all)\n`);
  return 0;
}

/** A database that cannot be reached or migrated is one line naming it by host and name (Bun.sql's messages hold no password). */
async function reach<T>(url: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof CopyRefused) throw new CliFailure(e.message);
    throw new CliFailure(`${describeDatabase(url)}: ${(e as Error).message}`);
  }
}

async function fromSqlite(from: string, url: string, client: SQL): Promise<number> {
  let file = path.resolve(from);
  if (existsSync(file) && statSync(file).isDirectory()) file = path.join(file, DB_FILE);
  if (!existsSync(file)) throw new CliFailure(`no database at ${file}`);
  const report = await reach(url, async () => {
    try {
      return await copyFromSqlite(file, client);
    } catch (e) {
      if (e instanceof CopyRefused) throw e;
      throw new Error(`the copy failed and no rows were written: ${(e as Error).message}`, { cause: e });
    }
  });
  process.stdout.write(summary(file, url, report));
  return 0;
}

function summary(file: string, url: string, r: CopyReport): string {
  const width = Math.max(...r.tables.map((t) => t.name.length), "images".length) + 2;
  const lines = [`copied ${file} into ${describeDatabase(url)}${r.migrationsApplied ? ` (after applying ${plural(r.migrationsApplied, "migration")})` : ""}:`];
  for (const t of r.tables) lines.push(`  ${t.name.padEnd(width)}${String(t.rows).padStart(8)}`);
  lines.push(`  ${"images".padEnd(width)}${String(r.images).padStart(8)}  (the files of ${path.join(path.dirname(file), "media")}, now rows of media)`);
  const rows = r.tables.reduce((n, t) => n + t.rows, 0);
  lines.push(`${plural(rows, "row")} in ${plural(r.tables.length, "table")} and ${plural(r.images, "image")}, in one transaction.`);
  if (r.replaced) lines.push(`The target's ${plural(r.replaced, "row")} from a start with no people or agents (its push key, sign-in limits) were replaced.`);
  if (r.skippedFiles) lines.push(`Left out ${plural(r.skippedFiles, "file")} of the media folder that nod did not name.`);
  for (const [table, n] of Object.entries(r.nulReplaced))
    lines.push(`${table}: ${plural(n, "value")} held NUL characters, which PostgreSQL's text cannot store; each became U+FFFD.`);
  return lines.join("\n") + "\n";
}
