// PostgreSQL's migrations (drizzle-pg/, embedded in the binary) applied in one
// place: `nod migrate --database`, `--from-sqlite` and the store's open all
// call migratePg. drizzle's migrator is not safe to run twice at once, so it
// runs on one connection holding a session advisory lock: of two instances
// starting together, the second waits, then finds nothing to do.
import type { SQL } from "bun";
import { drizzle } from "drizzle-orm/bun-sql";
import { migrate } from "drizzle-orm/bun-sql/migrator";
import { assetDir } from "../paths.ts";
import { PG_LOCKS } from "./locks.ts";

/** The advisory lock key of migrations (one table of nod's lock keys: locks.ts PG_LOCKS). */
export const MIGRATE_LOCK = PG_LOCKS.migrate;

export const isPostgresUrl = (url: string) => /^postgres(ql)?:\/\//i.test(url);

/** The database a URL names, fit for a log line: scheme, host, port and database; never the user, password or options. */
export function describeDatabase(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(not a URL)";
  }
}

/** Applies drizzle-pg/ under the migration lock; returns how many migrations this call applied and how many are applied in all. */
export async function migratePg(client: SQL): Promise<{ applied: number; total: number }> {
  const conn = await client.reserve();
  try {
    await conn`SELECT pg_advisory_lock(${MIGRATE_LOCK}::bigint)`;
    try {
      const before = await appliedCount(conn);
      await migrate(drizzle({ client: conn }), { migrationsFolder: assetDir("drizzle-pg") });
      const total = await appliedCount(conn);
      return { applied: total - before, total };
    } finally {
      await conn`SELECT pg_advisory_unlock(${MIGRATE_LOCK}::bigint)`;
    }
  } finally {
    conn.release();
  }
}

async function appliedCount(conn: SQL): Promise<number> {
  const [{ exists }] = await conn`SELECT to_regclass('drizzle.__drizzle_migrations') IS NOT NULL AS exists`;
  if (!exists) return 0;
  const [{ n }] = await conn`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`;
  return n;
}
