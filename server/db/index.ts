// Opens (and creates) the SQLite database in the data directory, applies the
// embedded migrations and returns the drizzle handle.
import { Database } from "bun:sqlite";
import path from "node:path";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { migrate } from "drizzle-orm/bun-sqlite/migrator";
import * as schema from "./schema.ts";
import { assetDir } from "../paths.ts";
import { privateDir, privateFile } from "../lib/private-files.ts";

export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database };
export const DB_FILE = "nod.db";

export function openDb(dataDir: string, opts: { migrate?: boolean } = {}): Db {
  privateDir(dataDir);
  const file = path.join(dataDir, DB_FILE);
  const sqlite = new Database(file, { create: true, strict: true });
  // SQLite gives the -wal and -shm it creates later the database file's mode:
  // closing nod.db up first keeps them private too (existing ones are closed up here).
  for (const f of [file, `${file}-wal`, `${file}-shm`]) privateFile(f);
  sqlite.run("PRAGMA journal_mode = WAL");
  sqlite.run("PRAGMA synchronous = NORMAL"); // with WAL: a process crash loses no committed transaction; only a power cut may lose the last few
  sqlite.run("PRAGMA busy_timeout = 5000");
  sqlite.run("PRAGMA foreign_keys = ON");
  // Up to 64 MiB of pages kept in memory (SQLite's default is 2 MiB): a burst that writes
  // 100,000 runs and their events, or a list deep in a million rows, reads its pages from
  // here instead of asking the kernel for each one (measured: a fifth less CPU per fired run).
  sqlite.run("PRAGMA cache_size = -65536");
  const db = drizzle({ client: sqlite, schema }) as Db;
  if (opts.migrate !== false) migrate(db, { migrationsFolder: assetDir("drizzle") });
  return db;
}

export function closeDb(db: Db) {
  const sqlite = db.$client;
  try {
    sqlite.run("PRAGMA optimize");
  } catch {}
  // Leave nod.db complete on its own: leaving WAL mode checkpoints and removes
  // nod.db-wal. A plain close does that only when no statement is still alive
  // (drizzle's prepared statements live until the garbage collector takes them),
  // so it did not always. If another connection is open (a backup, a second
  // process), this gives way at once and the WAL stays: it is just as committed.
  try {
    sqlite.run("PRAGMA busy_timeout = 0");
    sqlite.run("PRAGMA journal_mode = DELETE");
  } catch {}
  sqlite.close();
}

/**
 * A second connection to the same database for reads outside units of work
 * (`ctx.db`). It cannot write (query_only): every write goes through the
 * writer's connection, inside a unit of work. In WAL mode it sees only
 * committed transactions, so no request observes a unit's rows before its COMMIT.
 */
export function openReadDb(writer: Db): Db {
  const sqlite = new Database(writer.$client.filename, { strict: true });
  sqlite.run("PRAGMA busy_timeout = 5000");
  sqlite.run("PRAGMA query_only = ON");
  sqlite.run("PRAGMA cache_size = -65536");
  const db = drizzle({ client: sqlite, schema }) as Db;
  stores.set(db, { key: writer, read: true });
  return db;
}

/** Closes both connections of openReadDb's pair: the read one first, so the writer's is the last one out (it removes nod.db-wal). */
export function closeStore(readDb: Db) {
  // close(true) finalizes the statements still alive (drizzle's prepared ones),
  // else the connection lingers and the writer's close is not the last.
  try {
    readDb.$client.close(true);
  } catch {
    readDb.$client.close();
  }
  const writer = stores.get(readDb)?.key;
  if (writer) closeDb(writer);
}

// A handle → its store: caches filled by reads and dropped inside units of work
// (known agents, sessions) key on the store, not on one connection. On SQLite
// the read connection maps to the writer's; on PostgreSQL the pool maps to
// itself and each unit's transaction to the pool (store.ts, pg-writer.ts).
const stores = new WeakMap<Db, { key: Db; read: boolean }>();

/** Records which store db belongs to; read: what it reads is committed (ctx.db), not a unit's transaction. */
export const belongsTo = (db: Db, key: Db, read: boolean) => void stores.set(db, { key, read });

/** Whether db is a read connection (ctx.db): what it reads is committed, and may be kept in memory. */
export const isReadDb = (db: Db): boolean => stores.get(db)?.read === true;

/** One key for every handle of a database (for caches shared by reads and units of work). */
export const storeKey = (db: Db): Db => stores.get(db)?.key ?? db;

export { schema };

/**
 * Runs fn in one SQLite transaction (a savepoint when nested) and returns its
 * result. Statements made through `db` inside fn are part of it: bun:sqlite
 * has one connection, so the prepared statements of the hot paths work here too.
 */
export function inTx<T>(db: Db, fn: () => T): T {
  return db.$client.transaction(fn)();
}
