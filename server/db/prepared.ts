// Prepared statements for the hot paths, built once per database handle.
import type { Db } from "./index.ts";

const cache = new WeakMap<Db, Map<string, unknown>>();

/** Returns the statement `build` makes for this database, building it the first time only. */
export function prepared<T>(db: Db, key: string, build: (db: Db) => T): T {
  let forDb = cache.get(db);
  if (!forDb) cache.set(db, (forDb = new Map()));
  let stmt = forDb.get(key) as T | undefined;
  if (stmt === undefined) forDb.set(key, (stmt = build(db)));
  return stmt;
}
