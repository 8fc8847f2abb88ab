// Opens nod's store: SQLite in the data directory (two connections: the
// writer's and ctx.db's read-only one), or PostgreSQL when --database names a
// postgres:// URL (one Bun.sql pool for both, drizzle over schema-pg.ts, the
// embedded drizzle-pg/ migrations). Either way the services get a Db for
// reads and a Writer for units of work, and db/tables.ts the dialect's tables.
import { SQL } from "bun";
import { drizzle } from "drizzle-orm/bun-sql";
import * as pgSchema from "./schema-pg.ts";
import { belongsTo, closeStore, openDb, openReadDb, type Db } from "./index.ts";
import { SqliteWriter, type Writer } from "./unit-of-work.ts";
import { PgWriter } from "./pg-writer.ts";
import { useDialect, type Dialect } from "./tables.ts";
import { describeDatabase, isPostgresUrl, migratePg } from "./pg-migrate.ts";

export interface Store {
  dialect: Dialect;
  /** Reads outside units of work (ctx.db): they see only committed rows. */
  db: Db;
  writer: Writer;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** Effects of a committed write failed in the sink (the writes stand). */
  onSinkError?: (e: unknown) => void;
  /** PostgreSQL connections in the pool (docs/scale.md "Pool sizes"). */
  poolMax?: number;
}

export const POOL_MAX = 10;

/** The database could not be opened or migrated; the message names it by host and name only. */
export class StoreOpenError extends Error {}

export { describeDatabase, isPostgresUrl };

// One dialect per process: tables.ts's bindings point at one schema for every store.
const open: Record<Dialect, number> = { sqlite: 0, pg: 0 };

export async function openStore(config: { dataDir: string; databaseUrl?: string | null }, opts: StoreOptions = {}): Promise<Store> {
  const url = config.databaseUrl;
  const dialect: Dialect = url ? "pg" : "sqlite";
  const other: Dialect = dialect === "pg" ? "sqlite" : "pg";
  if (open[other] > 0) throw new Error(`a ${other} store is open in this process: a process uses one dialect (db/tables.ts)`);
  open[dialect]++; // counted from the start: no store of the other dialect opens while this one migrates
  let store: Store;
  try {
    store = url ? await openPg(url, opts) : openSqlite(config.dataDir, opts);
  } catch (e) {
    open[dialect]--;
    throw e;
  }
  useDialect(dialect);
  let closed = false;
  return {
    ...store,
    async close() {
      if (closed) return;
      closed = true;
      // The last PostgreSQL store gone, the tables are SQLite's again (the default; tests open both, one after the other).
      if (--open[dialect] === 0 && dialect === "pg") useDialect("sqlite");
      await store.close();
    },
  };
}

function openSqlite(dataDir: string, opts: StoreOptions): Store {
  const writeDb = openDb(dataDir);
  const db = openReadDb(writeDb);
  return { dialect: "sqlite", db, writer: new SqliteWriter(writeDb, opts.onSinkError), close: async () => closeStore(db) };
}

async function openPg(url: string, opts: StoreOptions): Promise<Store> {
  if (!isPostgresUrl(url)) throw new Error(`not a postgres:// or postgresql:// URL: ${describeDatabase(url)}`);
  const client = new SQL(url, { max: opts.poolMax ?? POOL_MAX });
  try {
    await migratePg(client);
  } catch (e) {
    await client.close().catch(() => {});
    // Bun.sql's messages name neither the user nor the password; this names the database.
    throw new StoreOpenError(`cannot open ${describeDatabase(url)}: ${(e as Error).message}`, { cause: e });
  }
  // The services are typed against SQLite's drizzle: PostgreSQL's builders take
  // the same calls, awaited (tables.ts, test/tables.test.ts). ctx.db and the
  // writer share the pool: a PostgreSQL reader sees only committed rows.
  const db = drizzle({ client, schema: pgSchema }) as unknown as Db;
  belongsTo(db, db, true);
  return { dialect: "pg", db, writer: new PgWriter(db, { onSinkError: opts.onSinkError }), close: () => client.close() };
}
