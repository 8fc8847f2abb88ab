// What a database error means, on either store. drizzle wraps the driver's
// error (in `cause`); bun:sqlite names a constraint in `code`, Bun.sql gives
// PostgreSQL's SQLSTATE in `errno`.

/** Every error in e's `cause` chain, e first. */
function* chain(e: unknown): Generator<{ code?: unknown; errno?: unknown }> {
  for (let c = e as { code?: unknown; errno?: unknown; cause?: unknown } | undefined; c && typeof c === "object"; c = c.cause as typeof c) yield c;
}

/** A row referred to a row that is gone: written while another request deleted its parent (an agent, a task). */
export function isForeignKeyViolation(e: unknown): boolean {
  for (const c of chain(e)) if (c.code === "SQLITE_CONSTRAINT_FOREIGNKEY" || c.errno === "23503") return true;
  return false;
}

/** A unique index refused the row (a username or another key taken), on either store. */
export function isUniqueViolation(e: unknown): boolean {
  for (const c of chain(e)) if (c.code === "SQLITE_CONSTRAINT_UNIQUE" || c.code === "SQLITE_CONSTRAINT_PRIMARYKEY" || c.errno === "23505") return true;
  return false;
}

const RETRY_CODES = new Set(["40001", "40P01"]);

/** A PostgreSQL deadlock or serialization failure: the whole transaction may be run again. */
export function isRetryable(e: unknown): boolean {
  for (const c of chain(e)) if (typeof c.errno === "string" && RETRY_CODES.has(c.errno)) return true;
  return false;
}
