// nod backup FILE — a consistent copy of the database, safe while the server runs.
// SQLite's VACUUM INTO on a connection of its own reads one snapshot (WAL
// readers never block the writer, nor it them) and writes a compact copy.
// On PostgreSQL (--database) nod copies nothing itself: it prints the pg_dump
// command line, which makes a consistent copy of a live database.
import { Database } from "bun:sqlite";
import { closeSync, existsSync, openSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { DB_FILE } from "../db/index.ts";
import { parseArgs, UsageError } from "./args.ts";
import { CliFailure } from "./client.ts";
import { dataDirFrom } from "./serve.ts";
import { FILE_MODE } from "../lib/private-files.ts";
import { isPostgresUrl } from "../db/pg-migrate.ts";

export const BACKUP_HELP = `Usage: nod backup FILE [--data DIR]
       nod backup [FILE] --database URL

Write a consistent copy of nod's database to FILE. Safe while the server is
running: the copy holds every change committed before the backup began.
FILE must not exist yet. Uploaded images (DIR/media) are plain files: copy
them with cp or rsync.

To restore: stop the server, move the copy to DIR/${DB_FILE} (remove any
${DB_FILE}-wal and ${DB_FILE}-shm beside it), start the server.

On PostgreSQL (--database), where images are in the database too, nod prints
the pg_dump command that writes a consistent copy of the live database to
FILE, and how to restore it; it never shows the password.

Flags:
  --data DIR       data directory (NOD_DATA_DIR, default ./nod-data)
  --database URL   a postgres:// or postgresql:// URL (NOD_DATABASE_URL)
  -h, --help       show this help
`;

export async function backup(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs(argv, { data: { type: "string" }, database: { type: "string" }, help: { type: "boolean", short: "h" } });
  if (flags.help) return void process.stdout.write(BACKUP_HELP), 0;
  const [target, ...rest] = positional;
  if (rest.length) throw new UsageError(`unexpected argument: ${rest[0]}`);
  const url = flags.database ?? process.env.NOD_DATABASE_URL;
  if (flags.data !== undefined && flags.database !== undefined) throw new UsageError("give --data (SQLite) or --database (PostgreSQL), not both");
  if (url) return void process.stdout.write(pgDumpGuide(url, target)), 0;
  if (!target) throw new UsageError("missing FILE");
  const source = path.join(dataDirFrom(flags), DB_FILE);
  const out = path.resolve(target);
  if (!existsSync(source)) throw new CliFailure(`no database at ${source} (use --data DIR)`);
  if (existsSync(out)) throw new CliFailure(`${out} already exists; not overwriting it`);
  if (!existsSync(path.dirname(out))) throw new CliFailure(`directory ${path.dirname(out)} does not exist`);

  const t0 = performance.now();
  // The copy holds everything nod knows: it is created empty and private (0600)
  // first, and VACUUM INTO (which takes an empty file) fills it in place.
  try {
    closeSync(openSync(out, "wx", FILE_MODE));
  } catch (e) {
    throw new CliFailure(`cannot create ${out}: ${(e as Error).message}`);
  }
  const db = new Database(source, { readwrite: true, create: false });
  try {
    db.run("PRAGMA busy_timeout = 10000");
    db.run("VACUUM INTO ?", [out]);
  } catch (e) {
    rmSync(out, { force: true });
    throw new CliFailure(`backup failed: ${(e as Error).message}`);
  } finally {
    db.close();
  }
  // Check the copy before calling it a backup.
  const copy = new Database(out, { readonly: true });
  try {
    const ok = copy.query("PRAGMA quick_check").get() as { quick_check: string };
    if (ok.quick_check !== "ok") throw new CliFailure(`the copy in ${out} failed its check: ${ok.quick_check}`);
  } finally {
    copy.close();
  }
  const size = statSync(out).size;
  process.stdout.write(`backed up ${source} to ${out} (${(size / 1024).toFixed(0)} KiB, ${Math.round(performance.now() - t0)} ms)\n`);
  return 0;
}

/** What to run to back up a PostgreSQL nod: pg_dump's command line, with the URL's host, user and database but never its password. */
export function pgDumpGuide(url: string, target?: string): string {
  // Never echo the URL as given: it may hold a password.
  if (!isPostgresUrl(url) || !URL.canParse(url)) throw new UsageError("--database: not a postgres:// or postgresql:// URL");
  const u = new URL(url);
  u.password = "";
  u.searchParams.delete("password");
  const file = target ?? `nod-${new Date().toISOString().slice(0, 10)}.dump`;
  const db = decodeURIComponent(u.pathname.slice(1)) || "(the user's default database)";
  const restore = new URL(u);
  restore.pathname = "/NEW_DATABASE";
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  return `nod's state on PostgreSQL, images included, is the database ${db} at ${u.host}.
PostgreSQL's pg_dump writes a consistent copy of it while nod runs:

  pg_dump --format=custom --file=${quote(file)} ${quote(u.toString())}

pg_dump asks for the password, or reads PGPASSWORD or ~/.pgpass (nod does not show it).
To restore, into a new empty database (then start nod with --database naming it):

  pg_restore --no-owner --dbname=${quote(restore.toString())} ${quote(file)}
`;
}
