// Prepared statements for the hot paths, built once per database handle.
import { Column, is, Param, Placeholder, SQL } from "drizzle-orm";
import { storeKey, type Db } from "./index.ts";
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
//
// On PostgreSQL a unit's statements run on its transaction's connection, a new
// handle each time, and drizzle binds a prepared query to the handle it was
// built on: built per transaction, the query builder and SQL compiler ran for
// every statement of every event (a third of nod's CPU under ingest, measured
// with --cpu-prof). So the SQL is compiled once per store, and each run goes to
// the handle it is given with Bun.sql's unsafe(sql, params), as drizzle does.

/** A prepared insert, update or delete that the hot paths run on every event (see above). */
export function hotWrite(db: Db, key: string, build: (db: Db) => DrizzlePrepared): HotWrite {
  if (dialect !== "sqlite") {
    const { sql, bind } = prepared(storeKey(db), key, (db) => compiled(build(db).getQuery()));
    const client = clientOf(db);
    return {
      execute: async (values) => {
        await send(db, client.unsafe(sql, bind(values)));
      },
    };
  }
  return prepared(db, key, (db): HotWrite => {
    const { sql, params } = build(db).getQuery();
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
  if (dialect !== "sqlite") {
    const { sql, bind, toRow } = prepared(storeKey(db), key, (db) => {
      const select = build(db);
      return { ...compiled(select.prepare().getQuery()), toRow: rowMapper<R>(select) };
    });
    const client = clientOf(db);
    return { execute: async (values = {}) => ((await client.unsafe(sql, bind(values)).values()) as unknown[][]).map(toRow) };
  }
  return prepared(db, key, (db): HotRead<R> => {
    const select = build(db);
    const { sql, params } = select.prepare().getQuery();
    const stmt = db.$client.prepare(sql);
    const bind = binder(params);
    const toRow = rowMapper<R>(select);
    return {
      execute(values = {}) {
        let rows: R[];
        try {
          rows = (stmt.values(...bind(values)) as unknown[][]).map(toRow);
        } catch (e) {
          return Promise.reject(e);
        }
        return Promise.resolve(rows);
      },
    };
  });
}

// A unit of work on PostgreSQL is a row of round trips on one connection, and
// most of its writes (a message, its conversation's bump, the activity row, an
// outbox row) give back nothing the unit looks at. Inside pipelined(db, …) the
// hot writes are sent on db's connection without waiting for their answers:
// PostgreSQL runs a connection's statements in the order they were sent, so
// what the unit reads next still sees them, and pipelined() waits for every
// answer before it returns (before the RELEASE or the COMMIT), failing if one
// of them failed. Measured on ingest: docs/scale.md, "Ingest on PostgreSQL".
const unanswered = new WeakMap<Db, Promise<unknown>[]>();

/** Runs fn with db's hot writes pipelined (PostgreSQL; see above); settles once every one of them was answered. */
export async function pipelined<T>(db: Db, fn: () => Promise<T>): Promise<T> {
  const sent: Promise<unknown>[] = [];
  unanswered.set(db, sent);
  let value: T;
  try {
    value = await fn();
  } catch (e) {
    // A write that failed earlier is the cause of what failed after it (the transaction was aborted).
    throw (await firstFailure(sent)) ?? e;
  } finally {
    unanswered.delete(db);
  }
  const failure = await firstFailure(sent);
  if (failure) throw failure;
  return value;
}

/** A statement sent on db's connection: inside pipelined(), not waited for (its answer is, by pipelined); else awaited. */
export async function send(db: Db, answer: PromiseLike<unknown>): Promise<void> {
  const sent = unanswered.get(db);
  if (!sent) return void (await answer);
  // A drizzle or Bun.sql query is sent when something first waits on it: then()
  // sends it now, in the order of the calls (once: drizzle's would run again
  // for a second then()).
  const p = Promise.resolve(answer.then((v) => v));
  p.catch(() => {}); // its failure is told by pipelined(), not as an unhandled rejection
  sent.push(p);
}

/** Raw SQL on db's PostgreSQL connection, sent as send() sends. */
export const sendSql = (db: Db, text: string, params: unknown[]) => send(db, clientOf(db).unsafe(text, params));

/** Waits for every write sent; the first one's error that failed, if any. */
async function firstFailure(sent: Promise<unknown>[]): Promise<unknown> {
  for (const r of await Promise.allSettled(sent)) if (r.status === "rejected") return r.reason ?? new Error("a pipelined write failed");
  return undefined;
}

/** A compiled query: its SQL, and its parameters from the placeholders' values. */
const compiled = ({ sql, params }: { sql: string; params: unknown[] }) => ({ sql, bind: binder(params) });

/** The Bun.sql handle a PostgreSQL drizzle handle runs on: the pool, a transaction or a savepoint. */
type PgClient = { unsafe(sql: string, params: unknown[]): Promise<unknown> & { values(): Promise<unknown> } };
const clientOf = (db: Db) => (db as unknown as { session: { client: PgClient } }).session.client;

/** Turns a row as the driver gives it (values in selection order) into drizzle's object, as its select would. */
function rowMapper<R>(select: DrizzleSelect): (raw: unknown[]) => R {
  const keys = Object.keys(select._.selectedFields);
  const decoders = Object.values(select._.selectedFields).map(decoderOf);
  return (raw) => {
    const row: Record<string, unknown> = {};
    for (let i = 0; i < keys.length; i++) row[keys[i]!] = raw[i] === null ? null : decoders[i]!.mapFromDriverValue(raw[i]);
    return row as R;
  };
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
