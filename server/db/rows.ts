// Helpers for awaited queries (the async store seam, docs/scale.md): a query
// awaited gives its rows, on SQLite as on PostgreSQL; `.get()` becomes first().

/** The first row, or undefined when there is none. */
export const first = <T>(rows: T[]): T | undefined => rows[0];

/** The one row a statement that must find it returned (an insert or update with returning()). */
export function only<T>(rows: T[]): T {
  if (rows.length !== 1) throw new Error(`expected one row, got ${rows.length}`);
  return rows[0]!;
}
