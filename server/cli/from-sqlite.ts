// `nod migrate --from-sqlite FILE --database URL`: a whole SQLite nod database,
// and the images in FILE's directory/media, copied into a PostgreSQL database
// with no people or agents yet. One transaction: a copy that fails leaves the
// target as it was. Rows go through drizzle and the two schema files, so
// booleans (0/1) and JSON (text) arrive as PostgreSQL's own types.
import { Database } from "bun:sqlite";
import type { SQL } from "bun";
import { existsSync, readFileSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { getTableColumns, getTableName, is, sql, type Column } from "drizzle-orm";
import { drizzle as sqliteDrizzle } from "drizzle-orm/bun-sqlite";
import { drizzle as pgDrizzle } from "drizzle-orm/bun-sql";
import { SQLiteTable, getTableConfig } from "drizzle-orm/sqlite-core";
import type { PgTable } from "drizzle-orm/pg-core";
import * as sqliteSchema from "../db/schema.ts";
import * as pgSchema from "../db/schema-pg.ts";
import { migratePg } from "../db/pg-migrate.ts";
import { MEDIA_NAME_RE, mimeForMedia } from "../media/store.ts";
import { isoMs } from "../lib/time.ts";
import { assetDir } from "../paths.ts";

/** A copy nod will not make (the message says why); nothing was written. */
export class CopyRefused extends Error {}

const BATCH = 1000; // rows per multi-row INSERT (the widest table has 21 columns: far under PostgreSQL's 65,535 parameters)
const MEDIA_BATCH = 8; // images are up to 5 MB each

interface Pair {
  name: string;
  src: SQLiteTable;
  dst: PgTable;
}

/** Every table of schema.ts with its schema-pg.ts twin: those no foreign key names first, then each after the tables it references (by depth, then name). */
export function tablesInOrder(): Pair[] {
  const pgTables = pgSchema as unknown as Record<string, PgTable>;
  const pairs = Object.entries(sqliteSchema)
    .filter(([, t]) => is(t, SQLiteTable))
    .map(([key, t]) => ({ name: getTableName(t as SQLiteTable), src: t as SQLiteTable, dst: pgTables[key]! }));
  const refs = new Map(pairs.map((p) => [p.name, getTableConfig(p.src).foreignKeys.map((fk) => getTableName(fk.reference().foreignTable)).filter((n) => n !== p.name)]));
  const depth = (name: string, seen: string[] = []): number => {
    if (seen.includes(name)) throw new Error(`foreign keys form a cycle: ${[...seen, name].join(" -> ")}`);
    return Math.max(0, ...refs.get(name)!.map((r) => 1 + depth(r, [...seen, name])));
  };
  return pairs.map((p) => ({ p, d: depth(p.name) })).sort((a, b) => a.d - b.d || a.p.name.localeCompare(b.p.name)).map(({ p }) => p);
}

/** Refuses a source that is not a nod database at this nod's schema (it is only read, never migrated here). */
export function checkSourceSchema(db: Database, file: string) {
  let last: number | null;
  try {
    last = (db.query("SELECT max(created_at) AS at FROM __drizzle_migrations").get() as { at: number | null }).at;
  } catch {
    throw new CopyRefused(`${file} is not a nod database (no migrations table)`);
  }
  const journal = JSON.parse(readFileSync(path.join(assetDir("drizzle"), "meta/_journal.json"), "utf8")) as { entries: { when: number }[] };
  const current = journal.entries.at(-1)!.when;
  if (last === null || Number(last) < current)
    throw new CopyRefused(`${file} is at an older schema: upgrade it first with this nod (nod migrate --data ${path.dirname(file)}), then copy it`);
  if (Number(last) > current) throw new CopyRefused(`${file} was written by a newer nod: copy it with that version`);
}

export interface CopyReport {
  tables: { name: string; rows: number }[];
  images: number;
  /** Names in the media folder that are not nod's images, left out. */
  skippedFiles: number;
  /** Values whose NUL characters became U+FFFD (PostgreSQL's text cannot hold them), by table. */
  nulReplaced: Record<string, number>;
  /** Rows of a target with no people nor agents (a first start's settings and sign-in limits), replaced. */
  replaced: number;
  migrationsApplied: number;
}

/**
 * Copies file (and the images in its directory's media folder) into the
 * PostgreSQL database behind client, after applying drizzle-pg/ there.
 */
export async function copyFromSqlite(file: string, client: SQL): Promise<CopyReport> {
  const source = new Database(file, { readonly: true });
  try {
    checkSourceSchema(source, file);
    const { applied } = await migratePg(client);
    const src = sqliteDrizzle({ client: source });
    const pg = pgDrizzle({ client, schema: pgSchema });
    const pairs = tablesInOrder();
    const report: CopyReport = { tables: [], images: 0, skippedFiles: 0, nulReplaced: {}, replaced: 0, migrationsApplied: applied };
    // One snapshot of the source: a nod still writing to it cannot tear the copy.
    source.run("BEGIN");
    try {
      await pg.transaction(async (tx) => {
        // No nod instance may add people or agents between the check and the COMMIT.
        await tx.execute(sql`LOCK TABLE users, agents IN EXCLUSIVE MODE`);
        const people = await countRows(tx, pgSchema.users);
        const agents = await countRows(tx, pgSchema.agents);
        if (people || agents)
          throw new CopyRefused(`the target already holds nod's data (${people} people, ${agents} agents): --from-sqlite copies into a database with none`);
        // Without people or agents, what a start left (its push key, sign-in limits) is replaced by the source's.
        for (const p of [...pairs].reverse()) report.replaced += (await tx.delete(p.dst).returning({ one: sql`1` })).length;

        for (const p of pairs) {
          const rows = await copyTable(src, tx, p, report.nulReplaced);
          report.tables.push({ name: p.name, rows });
        }
        const files = await copyMediaFiles(tx, path.join(path.dirname(file), "media"));
        report.images = files.copied;
        report.skippedFiles = files.skipped;
        // push_queue.id is an identity BY DEFAULT: new rows must number after the copied ones.
        await tx.execute(sql`SELECT setval(pg_get_serial_sequence('push_queue', 'id'), COALESCE(max(id), 0) + 1, false) FROM push_queue`);

        // Every row arrived, table by table, before the COMMIT.
        for (const t of report.tables) {
          const pair = pairs.find((p) => p.name === t.name)!;
          const expected = t.rows + (t.name === "media" ? report.images : 0);
          const found = await countRows(tx, pair.dst);
          if (found !== expected) throw new Error(`${t.name}: ${found} rows in the target after copying ${expected}`);
        }
      });
    } finally {
      source.run("ROLLBACK");
    }
    return report;
  } finally {
    source.close();
  }
}

type Tx = Parameters<Parameters<ReturnType<typeof pgDrizzle<typeof pgSchema>>["transaction"]>[0]>[0];

async function countRows(tx: Tx, table: PgTable): Promise<number> {
  const [row] = await tx.select({ n: sql<number>`count(*)::int` }).from(table);
  return row!.n;
}

/** One table in rowid order, BATCH rows at a time; returns how many. */
async function copyTable(src: ReturnType<typeof sqliteDrizzle>, tx: Tx, p: Pair, nulReplaced: Record<string, number>): Promise<number> {
  const columns = getTableColumns(p.src);
  // PostgreSQL's text cannot hold U+0000 (SQLite's can): such characters become U+FFFD, counted.
  const textKeys = Object.entries(getTableColumns(p.dst) as Record<string, Column>)
    .filter(([, c]) => c.getSQLType().startsWith("text"))
    .map(([k]) => k);
  const batch = p.name === "media" ? MEDIA_BATCH : BATCH;
  let after = 0;
  let n = 0;
  for (;;) {
    const rows = src
      .select({ ...columns, rowid__: sql<number>`rowid` })
      .from(p.src)
      .where(sql`rowid > ${after}`)
      .orderBy(sql`rowid`)
      .limit(batch)
      .all() as Record<string, unknown>[];
    if (!rows.length) return n;
    after = rows.at(-1)!.rowid__ as number;
    for (const row of rows) {
      delete row.rowid__;
      for (const k of textKeys) {
        const v = row[k];
        if (typeof v === "string" && v.includes("\0")) {
          row[k] = v.replaceAll("\0", "\uFFFD");
          nulReplaced[p.name] = (nulReplaced[p.name] ?? 0) + 1;
        }
      }
    }
    try {
      await tx.insert(p.dst).values(rows as never);
    } catch (e) {
      // drizzle's message lists the statement and every parameter (password hashes, secrets): say only what PostgreSQL said.
      const why = (e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message;
      throw new Error(`copying ${p.name}: ${why}`, { cause: e });
    }
    n += rows.length;
  }
}

/** The images of DATA/media (nod's own names only) into the media table. */
async function copyMediaFiles(tx: Tx, dir: string): Promise<{ copied: number; skipped: number }> {
  if (!existsSync(dir)) return { copied: 0, skipped: 0 };
  let copied = 0;
  let skipped = 0;
  for (const name of (await readdir(dir)).sort()) {
    if (!MEDIA_NAME_RE.test(name)) {
      skipped++;
      continue;
    }
    const file = path.join(dir, name);
    const [bytes, info] = await Promise.all([readFile(file), stat(file)]);
    const row = { name, mime: mimeForMedia(name), bytes, createdAt: isoMs(info.mtime) };
    copied += (await tx.insert(pgSchema.media).values(row).onConflictDoNothing().returning({ name: pgSchema.media.name })).length;
  }
  return { copied, skipped };
}
