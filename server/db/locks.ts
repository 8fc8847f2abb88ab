// PostgreSQL advisory locks: what makes instances sharing one database take
// turns where SQLite's single writer already does. Keys are nod's own ("nod"
// in the high bytes), one per thing that must happen one at a time.
import { sql } from "drizzle-orm";
import type { Db } from "./index.ts";
import { rawRows } from "./rows.ts";
import { dialect } from "./tables.ts";

export const PG_LOCKS = { migrate: 0x6e6f6401, signIn: 0x6e6f6402, setup: 0x6e6f6403 } as const;

/**
 * Called inside a unit of work: the units that take the same lock run one at
 * a time, on every instance, until their COMMIT. On SQLite it does nothing:
 * BEGIN IMMEDIATE already makes each transaction the database's only writer.
 */
export async function lockUntilCommit(db: Db, lock: keyof typeof PG_LOCKS) {
  if (dialect === "pg") await rawRows(db, sql`SELECT pg_advisory_xact_lock(${PG_LOCKS[lock]}::bigint)`);
}
