import { sql, type Placeholder, type SQL } from "drizzle-orm";
import type { Db } from "./index.ts";
import { dialect } from "./tables.ts";

// Helpers for awaited queries (the async store seam, docs/scale.md): a query
// awaited gives its rows, on SQLite as on PostgreSQL; `.get()` becomes first().

/** The first row, or undefined when there is none. */
export const first = <T>(rows: T[]): T | undefined => rows[0];

/** The one row a statement that must find it returned (an insert or update with returning()). */
export function only<T>(rows: T[]): T {
  if (rows.length !== 1) throw new Error(`expected one row, got ${rows.length}`);
  return rows[0]!;
}

/**
 * The rows of a raw SQL query on either store (drizzle's SQLite database calls
 * it all(), PostgreSQL's execute()); columns come back as the SQL names them.
 * For the few statements drizzle's builders cannot say, such as index hints.
 */
export async function rawRows<T>(db: Db, query: SQL): Promise<T[]> {
  if (dialect === "sqlite") return db.all<T>(query);
  return [...((await (db as unknown as { execute(q: SQL): Promise<Iterable<T>> }).execute(query)) as Iterable<T>)];
}

/**
 * A constant for `.limit()` written into the SQL instead of bound: SQLite plans
 * with the value of a bound LIMIT, so a prepared statement with one is compiled
 * again on every run (measured: a one-row read 3 µs instead of 0.5). drizzle
 * inlines SQL given to limit() (typed as a placeholder, which it treats alike).
 */
export const literalLimit = (n: number) => sql.raw(String(Math.trunc(n))) as unknown as Placeholder;

/** SQLite's `INDEXED BY` hint, for a query the planner gets wrong without statistics; nothing on PostgreSQL. */
export const indexedBy = (index: string): SQL => (dialect === "sqlite" ? sql.raw(`INDEXED BY ${index}`) : sql``);
