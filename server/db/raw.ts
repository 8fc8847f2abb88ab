// Statements drizzle's builders do not express, written once with drizzle's
// sql`…` (its parameters become ?/$n as the dialect wants) and run on either
// store: SQLite's run/all, PostgreSQL's execute. For SQL that differs between
// the dialects, the caller picks by `dialect` (tables.ts).
import type { SQL } from "drizzle-orm";
import type { Db } from "./index.ts";
import { asPg } from "./pg-writer.ts";
import { dialect } from "./tables.ts";

/** The rows a statement returns, as objects keyed by column name (alias with "camelCase" where the caller wants it). */
export async function rawRows<T>(db: Db, q: SQL): Promise<T[]> {
  return dialect === "pg" ? ([...(await asPg(db).execute(q))] as T[]) : db.all<T>(q);
}

/** How many rows a statement inserted, changed or deleted. */
export async function rawChanges(db: Db, q: SQL): Promise<number> {
  // Bun.sql's result array carries `count`; bun:sqlite's run() gives `changes` (drizzle types neither).
  if (dialect === "pg") return ((await asPg(db).execute(q)) as unknown as { count: number }).count;
  return (db.run(q) as unknown as { changes: number }).changes;
}
