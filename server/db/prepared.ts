// Prepared statements for the hot paths, built once per database handle.
import { is, Param, Placeholder } from "drizzle-orm";
import type { Db } from "./index.ts";
import { dialect } from "./tables.ts";

const cache = new WeakMap<Db, Map<string, unknown>>();

/** Returns the statement `build` makes for this database, building it the first time only. */
export function prepared<T>(db: Db, key: string, build: (db: Db) => T): T {
  let forDb = cache.get(db);
  if (!forDb) cache.set(db, (forDb = new Map()));
  let stmt = forDb.get(key) as T | undefined;
  if (stmt === undefined) forDb.set(key, (stmt = build(db)));
  return stmt;
}

type Values = Record<string, unknown>;

/** What drizzle's prepared queries of both dialects offer: the compiled SQL, and a run. */
interface DrizzlePrepared {
  getQuery(): { sql: string; params: unknown[] };
  execute(values?: Values): PromiseLike<unknown>;
}

/** A write of the hot paths (no rows back), run with its placeholders' values. */
export interface HotWrite {
  execute(values: Values): Promise<void>;
}

const done = Promise.resolve();

/**
 * A prepared insert, update or delete that the hot paths run on every event.
 * `build` says it once, as a drizzle query with placeholders (the one source
 * of its SQL and columns). On PostgreSQL it runs as that query. On SQLite the
 * SQL drizzle compiled runs straight on a bun:sqlite statement, its parameters
 * in the order worked out here once: drizzle's own execute() fills the
 * placeholders through is() checks and hands back a thenable that costs three
 * promise hops when awaited, about 3 µs a statement (measured, docs/scale.md).
 */
export function hotWrite(db: Db, key: string, build: (db: Db) => DrizzlePrepared): HotWrite {
  return prepared(db, key, (db): HotWrite => {
    const q = build(db);
    if (dialect !== "sqlite") return { execute: async (values) => void (await q.execute(values)) };
    const { sql, params } = q.getQuery();
    const stmt = db.$client.prepare(sql);
    const bind = params.map(binder);
    return {
      execute(values) {
        try {
          stmt.run(...bind.map((b) => b(values)));
        } catch (e) {
          return Promise.reject(e);
        }
        return done;
      },
    };
  });
}

type Binding = string | number | bigint | boolean | null | Uint8Array;

/** How one parameter of a compiled query gets its value (as drizzle's fillPlaceholders does it, once). */
function binder(p: unknown): (values: Values) => Binding {
  const fromValues = (name: string, encode: (v: unknown) => unknown) => (values: Values) => {
    if (!(name in values)) throw new Error(`No value for placeholder "${name}" was provided`);
    return encode(values[name]) as Binding;
  };
  if (is(p, Placeholder)) return fromValues(p.name, (v) => v);
  if (is(p, Param) && is(p.value, Placeholder)) {
    const { encoder } = p;
    return fromValues(p.value.name, (v) => encoder.mapToDriverValue(v));
  }
  return () => p as Binding;
}
