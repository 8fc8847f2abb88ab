// Prepared statements for the hot paths, built once per database handle.
import { Column, is, Param, Placeholder, SQL } from "drizzle-orm";
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

/** A drizzle select builder (before prepare()): what it selects, under which keys. */
interface DrizzleSelect {
  readonly _: { readonly result: unknown[]; readonly selectedFields: Record<string, unknown> };
  prepare(): DrizzlePrepared;
}

/** A write of the hot paths (no rows back), run with its placeholders' values. */
export interface HotWrite {
  execute(values: Values): Promise<void>;
}

/** A read of the hot paths: its rows, as drizzle's select would give them. */
export interface HotRead<R> {
  execute(values?: Values): Promise<R[]>;
}

const done = Promise.resolve();

// Why the hot statements skip drizzle on SQLite (docs/scale.md, the async store
// seam): drizzle's prepared execute() fills the placeholders through is()
// checks, maps each row through a generic path walk, and hands back a thenable
// that costs three promise hops when awaited; measured, 2 to 3 µs a statement,
// on a path of a few µs per statement. Each statement is still said once, as a
// drizzle query (the one source of its SQL and columns): PostgreSQL runs it as
// is; SQLite runs the SQL drizzle compiled on a bun:sqlite statement, with the
// parameters' order and the columns' decoders worked out here once.

/** A prepared insert, update or delete that the hot paths run on every event (see above). */
export function hotWrite(db: Db, key: string, build: (db: Db) => DrizzlePrepared): HotWrite {
  return prepared(db, key, (db): HotWrite => {
    const q = build(db);
    if (dialect !== "sqlite") return { execute: async (values) => void (await q.execute(values)) };
    const { sql, params } = q.getQuery();
    const stmt = db.$client.prepare(sql);
    const bind = binder(params);
    return {
      execute(values) {
        try {
          stmt.run(...bind(values));
        } catch (e) {
          return Promise.reject(e);
        }
        return done;
      },
    };
  });
}

/** A prepared select of flat columns that the hot paths run on every event (see above). */
export function hotRead<S extends DrizzleSelect>(db: Db, key: string, build: (db: Db) => S): HotRead<S["_"]["result"][number]> {
  type R = S["_"]["result"][number];
  return prepared(db, key, (db): HotRead<R> => {
    const select = build(db);
    const q = select.prepare();
    if (dialect !== "sqlite") return { execute: async (values) => (await q.execute(values)) as R[] };
    const { sql, params } = q.getQuery();
    const stmt = db.$client.prepare(sql);
    const bind = binder(params);
    const keys = Object.keys(select._.selectedFields);
    const decoders = Object.values(select._.selectedFields).map(decoderOf);
    return {
      execute(values = {}) {
        let rows: R[];
        try {
          rows = (stmt.values(...bind(values)) as unknown[][]).map((raw) => {
            const row: Record<string, unknown> = {};
            for (let i = 0; i < keys.length; i++) row[keys[i]!] = raw[i] === null ? null : decoders[i]!.mapFromDriverValue(raw[i]);
            return row as R;
          });
        } catch (e) {
          return Promise.reject(e);
        }
        return Promise.resolve(rows);
      },
    };
  });
}

type Binding = string | number | bigint | boolean | null | Uint8Array;
type Decoder = { mapFromDriverValue(v: unknown): unknown };

/** How a column or SQL expression of a selection turns what SQLite gives into its value. */
function decoderOf(field: unknown): Decoder {
  if (is(field, Column)) return field;
  // An expression's decoder (sql<T>`…`.mapWith(…)) is not in drizzle's declared types.
  if (is(field, SQL)) return (field as unknown as { decoder: Decoder }).decoder;
  if (is(field, SQL.Aliased)) return (field.sql as unknown as { decoder: Decoder }).decoder;
  throw new Error("hotRead: a flat selection of columns and SQL expressions only");
}

/** The parameters of a compiled query from its placeholders' values (drizzle's fillPlaceholders, worked out once). */
function binder(params: unknown[]): (values: Values) => Binding[] {
  const names: (string | null)[] = [];
  const encoders: (((v: unknown) => unknown) | null)[] = [];
  for (const p of params) {
    if (is(p, Placeholder)) names.push(p.name), encoders.push(null);
    else if (is(p, Param) && is(p.value, Placeholder)) {
      const { encoder } = p;
      names.push(p.value.name), encoders.push((v) => encoder.mapToDriverValue(v));
    } else names.push(null), encoders.push(null);
  }
  return (values) => {
    const out = new Array<Binding>(params.length);
    for (let i = 0; i < params.length; i++) {
      const name = names[i] as string | null;
      if (name === null) out[i] = params[i] as Binding;
      else {
        if (!(name in values)) throw new Error(`No value for placeholder "${name}" was provided`);
        const encode = encoders[i];
        out[i] = (encode ? encode(values[name]) : values[name]) as Binding;
      }
    }
    return out;
  };
}
