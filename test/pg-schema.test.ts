// The PostgreSQL schema (server/db/schema-pg.ts, migrations in drizzle-pg/)
// stays in step with SQLite's (schema.ts, drizzle/): the same tables, columns,
// nullability, defaults, indexes (partial ones included), unique constraints
// and foreign keys. The first part compares drizzle's table configs; the
// second applies drizzle-pg/ to a fresh database on a real PostgreSQL and
// reads the catalog back.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { SQL } from "bun";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { SQL as DrizzleSQL, eq, getTableName, is, type Column } from "drizzle-orm";
import { SQLiteSyncDialect, SQLiteTable, getTableConfig as sqliteTableConfig } from "drizzle-orm/sqlite-core";
import { PgDialect, PgTable, getTableConfig as pgTableConfig, pgTable, text as pgText } from "drizzle-orm/pg-core";
import { drizzle } from "drizzle-orm/bun-sql";
import { migrate } from "drizzle-orm/bun-sql/migrator";
import * as sqliteSchema from "../server/db/schema.ts";
import * as pgSchema from "../server/db/schema-pg.ts";
import * as clusterSchema from "../server/db/schema-cluster.ts";
import { closeDb, openDb } from "../server/db/index.ts";
import { assetDir } from "../server/paths.ts";
import { describePg, freshDatabase } from "./pg-helpers.ts";

setDefaultTimeout(60_000); // a hang guard (creating a database, migrating), never a time check

// ---------------------------------------------------------------------------
// One dialect-neutral description of a table, from either dialect's config.

type Kind = "text" | "json" | "boolean" | "integer" | "bytes";
interface ColumnShape {
  kind: Kind | string; // a string other than a Kind names a column type with no counterpart
  notNull: boolean;
  primary: boolean;
  generated: boolean; // SQLite AUTOINCREMENT / PostgreSQL identity
  default: unknown;
  unique: string | null;
}
interface IndexShape {
  columns: string[];
  unique: boolean;
  where: string | null;
}
interface TableShape {
  columns: Record<string, ColumnShape>;
  indexes: Record<string, IndexShape>;
  foreignKeys: string[];
  primaryKeys: string[][];
}

const sqliteDialect = new SQLiteSyncDialect();
const pgDialect = new PgDialect();

function sqliteKind(c: Column): ColumnShape["kind"] {
  return { SQLiteText: "text", SQLiteTextJson: "json", SQLiteBoolean: "boolean", SQLiteInteger: "integer", SQLiteBlobBuffer: "bytes" }[c.columnType] ?? c.columnType;
}
function pgKind(c: Column): ColumnShape["kind"] {
  // Text must be the byte-ordered `text COLLATE "C"` (schema-pg.ts says why); a plain PgText is a mismatch.
  if (c.columnType === "PgCustomColumn") return { 'text COLLATE "C"': "text", json: "json", bytea: "bytes" }[c.getSQLType()] ?? c.getSQLType();
  return { PgBoolean: "boolean", PgInteger: "integer", PgBigInt53: "integer" }[c.columnType] ?? c.columnType;
}

function shapeOf(table: SQLiteTable | PgTable): TableShape {
  const sqlite = is(table, SQLiteTable);
  const config = sqlite ? sqliteTableConfig(table) : pgTableConfig(table as PgTable);
  const render = (s: DrizzleSQL) => (sqlite ? sqliteDialect : pgDialect).sqlToQuery(s).sql;
  const columns: Record<string, ColumnShape> = {};
  for (const c of config.columns as Column[]) {
    columns[c.name] = {
      kind: sqlite ? sqliteKind(c) : pgKind(c),
      notNull: c.notNull,
      primary: c.primary,
      generated: sqlite ? Boolean((c as unknown as { autoIncrement?: boolean }).autoIncrement) : c.generatedIdentity !== undefined,
      default: is(c.default, DrizzleSQL) ? render(c.default) : c.default,
      unique: c.isUnique ? (c.uniqueName ?? null) : null,
    };
  }
  const indexes: Record<string, IndexShape> = {};
  for (const i of config.indexes) {
    const ic = i.config as { name: string; columns: { name: string }[]; unique: boolean; where?: DrizzleSQL };
    indexes[ic.name] = { columns: ic.columns.map((c) => c.name), unique: ic.unique, where: ic.where ? render(ic.where) : null };
  }
  const foreignKeys = config.foreignKeys
    .map((fk) => {
      const ref = fk.reference();
      return `(${ref.columns.map((c) => c.name)}) -> ${getTableName(ref.foreignTable)}(${ref.foreignColumns.map((c) => c.name)}) on delete ${fk.onDelete ?? "no action"} on update ${fk.onUpdate ?? "no action"}`;
    })
    .sort();
  const primaryKeys = config.primaryKeys.map((pk) => pk.columns.map((c) => c.name));
  return { columns, indexes, foreignKeys, primaryKeys };
}

const tablesOf = <T>(schema: Record<string, unknown>, kind: new (...a: never[]) => T) =>
  new Map(Object.values(schema).filter((v): v is T => is(v, kind as never)).map((t) => [getTableName(t as never), t]));

const sqliteTables = tablesOf(sqliteSchema, SQLiteTable);
const pgTables = tablesOf(pgSchema, PgTable);
// drizzle-pg/ also holds the tables only PostgreSQL has (instances sharing the database): in the catalog, not in the comparison.
const catalogTables = new Map([...pgTables, ...tablesOf(clusterSchema, PgTable)]);

describe("schema-pg.ts matches schema.ts", () => {
  test("the same tables", () => {
    expect([...pgTables.keys()].sort()).toEqual([...sqliteTables.keys()].sort());
    expect(sqliteTables.size).toBeGreaterThan(10);
  });

  for (const [name, sqliteTable] of sqliteTables) {
    test(`${name}: columns (type, nullability, defaults, keys), indexes and foreign keys`, () => {
      const pg = pgTables.get(name);
      expect(pg).toBeDefined();
      expect(shapeOf(pg!)).toEqual(shapeOf(sqliteTable));
    });
  }

  test("the comparison sees a nullable column and a locale-ordered text column", () => {
    const users = (username: ReturnType<typeof pgText> | ReturnType<typeof pgSchema.text>) =>
      pgTable("users", { id: pgSchema.text("id").primaryKey(), username, passwordHash: pgSchema.text("password_hash").notNull(), createdAt: pgSchema.text("created_at").notNull() });
    const sqliteUsers = shapeOf(sqliteSchema.users);
    expect(shapeOf(users(pgSchema.text("username").notNull().unique()))).toEqual(sqliteUsers); // as in schema-pg.ts
    expect(shapeOf(users(pgSchema.text("username").unique()))).not.toEqual(sqliteUsers);
    expect(shapeOf(users(pgText("username").notNull().unique()))).not.toEqual(sqliteUsers);
  });
});

// ---------------------------------------------------------------------------
// drizzle-pg/ applied to a real PostgreSQL: what the catalog says.

/** What information_schema.columns should say of a schema-pg.ts column. */
function expectedColumn(c: Column) {
  const kind = pgKind(c);
  const type = kind === "text" ? "text" : c.getSQLType();
  const d = c.default;
  const literal = (v: string) => `'${v.replaceAll("'", "''")}'`;
  const column_default =
    d === undefined ? null : kind === "json" ? `${literal(JSON.stringify(d))}::json` : typeof d === "string" ? `${literal(d)}::text` : String(d);
  return {
    data_type: type,
    is_nullable: c.notNull ? "NO" : "YES",
    column_default,
    collation_name: kind === "text" ? "C" : null,
    is_identity: c.generatedIdentity ? "YES" : "NO",
  };
}

/** An index as pg_indexes.indexdef states it, in the shape of IndexShape (predicates without casts or parentheses). */
function parseIndexDef(def: string): IndexShape & { name: string; table: string } {
  const m = /^CREATE (UNIQUE )?INDEX (\S+) ON public\.(\S+) USING btree \((.+?)\)(?: WHERE (.+))?$/.exec(def);
  if (!m) throw new Error(`unexpected index definition: ${def}`);
  // PostgreSQL stores `x IN ('a', 'b')` as `x = ANY (ARRAY['a', 'b'])`: read it back as written.
  const where = m[5]
    ? m[5]
        .replaceAll("::text", "")
        .replace(/[()]/g, "")
        .replace(/(\w+) = ANY ARRAY\[([^\]]*)\]/g, "$1 IN ($2)")
    : null;
  return { name: m[2]!, table: m[3]!, unique: Boolean(m[1]), columns: m[4]!.split(", "), where };
}

describePg("drizzle-pg/ on PostgreSQL", () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let client: SQL;

  beforeAll(async () => {
    database = await freshDatabase();
    client = new SQL(database.url, { max: 2 });
    await migrate(drizzle({ client }), { migrationsFolder: assetDir("drizzle-pg") });
  });
  afterAll(async () => {
    await client?.close();
    await database?.drop();
  });

  test("every table and column, with its type, nullability, default and collation", async () => {
    const rows = await client`
      SELECT table_name, column_name, data_type, is_nullable, column_default, collation_name, is_identity
      FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, column_name`;
    const actual = Object.fromEntries(rows.map(({ table_name, column_name, ...rest }: Record<string, string>) => [`${table_name}.${column_name}`, rest]));
    const expected: Record<string, unknown> = {};
    for (const [name, table] of catalogTables) for (const c of pgTableConfig(table).columns) expected[`${name}.${c.name}`] = expectedColumn(c);
    expect(actual).toEqual(expected);
  });

  test("every index (partial ones with their predicate), primary key and unique constraint", async () => {
    const rows: { indexdef: string }[] = await client`SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'`;
    const actual = Object.fromEntries(rows.map((r) => parseIndexDef(r.indexdef)).map(({ name, ...rest }) => [name, rest]));
    const expected: Record<string, IndexShape & { table: string }> = {};
    for (const [table, t] of catalogTables) {
      const shape = shapeOf(t);
      for (const [name, i] of Object.entries(shape.indexes)) expected[name] = { table, ...i };
      for (const [column, c] of Object.entries(shape.columns)) {
        if (c.primary) expected[`${table}_pkey`] = { table, columns: [column], unique: true, where: null };
        if (c.unique) expected[c.unique] = { table, columns: [column], unique: true, where: null };
      }
      // a primary key over several columns (drizzle names it TABLE_COLUMNS_pk)
      for (const pk of pgTableConfig(t).primaryKeys) expected[pk.getName()] = { table, columns: pk.columns.map((c) => c.name), unique: true, where: null };
    }
    expect(actual).toEqual(expected);
  });

  test("every foreign key, with its delete rule", async () => {
    const rows: { table: string; def: string }[] = await client`
      SELECT conrelid::regclass::text AS table, pg_get_constraintdef(oid) AS def
      FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace`;
    const actual = rows.map((r) => `${r.table}: ${r.def}`).sort();
    const expected: string[] = [];
    for (const [table, t] of catalogTables)
      for (const fk of pgTableConfig(t).foreignKeys) {
        const ref = fk.reference();
        const onDelete = fk.onDelete && fk.onDelete !== "no action" ? ` ON DELETE ${fk.onDelete.toUpperCase()}` : "";
        expected.push(`${table}: FOREIGN KEY (${ref.columns.map((c) => c.name).join(", ")}) REFERENCES ${getTableName(ref.foreignTable)}(${ref.foreignColumns.map((c) => c.name).join(", ")})${onDelete}`);
      }
    expect(actual).toEqual(expected.sort());
  });

  test("the migrator applies each migration once: starting again changes nothing", async () => {
    const journal = JSON.parse(readFileSync(path.join(assetDir("drizzle-pg"), "meta/_journal.json"), "utf8")) as { entries: unknown[] };
    await migrate(drizzle({ client }), { migrationsFolder: assetDir("drizzle-pg") });
    const [{ n }] = await client`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`;
    expect(n).toBe(journal.entries.length);
  });

  test("text sorts as in SQLite (byte order), whatever the database's locale", async () => {
    const names = ["b", "B", "a", "_a", "a-b", "ab", "Ä", "10", "9", "Z", "z"];
    const dir = mkdtempSync(path.join(tmpdir(), "nod-pg-order-"));
    const sqlite = openDb(dir);
    try {
      const at = new Date().toISOString();
      for (const [i, username] of names.entries()) {
        const row = { id: `usr_${i}`, username, passwordHash: "x", createdAt: at };
        sqlite.insert(sqliteSchema.users).values(row).run();
        await drizzle({ client }).insert(pgSchema.users).values(row);
      }
      const fromSqlite = sqlite.select({ u: sqliteSchema.users.username }).from(sqliteSchema.users).orderBy(sqliteSchema.users.username).all();
      const fromPg = await drizzle({ client }).select({ u: pgSchema.users.username }).from(pgSchema.users).orderBy(pgSchema.users.username);
      expect(fromPg.map((r) => r.u)).toEqual(fromSqlite.map((r) => r.u));
      expect(fromPg.map((r) => r.u)).toEqual([...names].sort()); // JavaScript's code-unit order, for these names the same
    } finally {
      closeDb(sqlite);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("json and boolean columns read back through drizzle as they were written", async () => {
    const db = drizzle({ client, schema: pgSchema });
    const at = new Date().toISOString();
    await db.insert(pgSchema.agents).values({ id: "agt_json", name: "A", type: "interactive", secretHash: "x", webhookSecret: "x", createdAt: at, updatedAt: at });
    const proposal = { task_name: "n", task_prompt: "p", task_schedule: "0 9 * * *", timezone: "Europe/Paris" };
    await db.insert(pgSchema.decisions).values({ id: "dec_json", agentId: "agt_json", kind: "approval", title: "t", options: ["a", "b"], proposal, allowsAlways: true, createdAt: at });
    const [row] = await db.select().from(pgSchema.decisions).where(eq(pgSchema.decisions.id, "dec_json"));
    expect(row).toMatchObject({ options: ["a", "b"], proposal, allowsAlways: true, alwaysAllow: false, status: "pending", description: "" });
    // Stored as JSON values, not as JSON strings holding JSON (a known trap of some drivers).
    const [types] = await client`SELECT json_typeof(options) AS options, json_typeof(proposal) AS proposal FROM decisions WHERE id = 'dec_json'`;
    expect(types).toEqual({ options: "array", proposal: "object" });
  });
});
