// server/db/tables.ts hands the services one dialect's tables under SQLite's
// types. That is sound only if every table selects and inserts the same
// TypeScript type in schema.ts and schema-pg.ts: checked here at compile time
// (`bunx tsc --noEmit`, which CI runs), and at run time that useDialect
// switches every table the schemas define.
import { afterAll, describe, expect, test } from "bun:test";
import { getTableName, is } from "drizzle-orm";
import { PgTable } from "drizzle-orm/pg-core";
import { SQLiteTable } from "drizzle-orm/sqlite-core";
import * as sqlite from "../server/db/schema.ts";
import * as pg from "../server/db/schema-pg.ts";
import * as tables from "../server/db/tables.ts";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type TableNames = { [K in keyof typeof sqlite]: (typeof sqlite)[K] extends SQLiteTable ? K : never }[keyof typeof sqlite];
type SameRows = {
  [K in TableNames]: K extends keyof typeof pg
    ? Equal<(typeof sqlite)[K]["$inferSelect"], (typeof pg)[K] extends { $inferSelect: infer S } ? S : never> extends true
      ? Equal<(typeof sqlite)[K]["$inferInsert"], (typeof pg)[K] extends { $inferInsert: infer I } ? I : never>
      : false
    : false;
};
// A table whose row types differ makes its entry `false`, and this line a type error naming it.
const sameRows: { [K in TableNames]: true } = {} as SameRows;
void sameRows;

const sqliteNames = Object.entries(sqlite).filter(([, v]) => is(v, SQLiteTable)).map(([k]) => k).sort();

describe("db/tables.ts", () => {
  // The switch is the process's: with every test server on PostgreSQL (NOD_TEST_BACKEND=pg), other files' servers
  // in this worker count on it, so it is only flipped on a SQLite run, and put back as it was.
  const was = tables.dialect;
  afterAll(() => tables.useDialect(was));

  test("exports every table of schema.ts, and schema-pg.ts has the same ones", () => {
    // (whichever dialect they point at now: on a run with every server on PostgreSQL, its tables)
    const exported = Object.keys(tables).filter((k) => is((tables as Record<string, unknown>)[k], tables.dialect === "pg" ? PgTable : SQLiteTable)).sort();
    expect(exported).toEqual(sqliteNames);
    expect(Object.entries(pg).filter(([, v]) => is(v, PgTable)).map(([k]) => k).sort()).toEqual(sqliteNames);
  });

  test.skipIf(process.env.NOD_TEST_BACKEND === "pg")("useDialect('pg') points every table at PostgreSQL's definition, and back", () => {
    tables.useDialect("pg");
    expect(tables.dialect).toBe("pg");
    for (const name of sqliteNames) {
      const t = (tables as Record<string, unknown>)[name];
      expect(t).toBe((pg as Record<string, unknown>)[name]);
      expect(getTableName(t as PgTable)).toBe(getTableName((sqlite as Record<string, SQLiteTable>)[name]!));
    }
    tables.useDialect("sqlite");
    for (const name of sqliteNames) expect((tables as Record<string, unknown>)[name]).toBe((sqlite as Record<string, unknown>)[name]);
  });
});
