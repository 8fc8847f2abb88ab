// PostgreSQL for the tests. NOD_TEST_DATABASE_URL names a server on which the
// tests may create and drop databases: .ci/run starts a throwaway cluster and
// sets it; a developer without one skips these tests, or starts one with
//   export NOD_TEST_DATABASE_URL=$(scripts/pg-cluster.sh start "$(mktemp -d)")
import { SQL } from "bun";
import { describe, test } from "bun:test";
import { randomHex } from "../server/lib/ids.ts";

export const PG_URL = process.env.NOD_TEST_DATABASE_URL;

/**
 * describe() when a PostgreSQL server is given. Without one the block is
 * skipped with a line saying why; under CI (which always starts one) it fails
 * instead, so a broken CI set-up cannot pass by skipping.
 */
export function describePg(name: string, fn: () => void | Promise<void>) {
  if (PG_URL) return describe(name, fn);
  if (process.env.CI) {
    return describe(name, () =>
      test("NOD_TEST_DATABASE_URL is set (.ci/run starts PostgreSQL)", () => {
        throw new Error("NOD_TEST_DATABASE_URL is unset under CI: .ci/run could not start PostgreSQL");
      }),
    );
  }
  const why = "NOD_TEST_DATABASE_URL is unset (scripts/pg-cluster.sh starts a throwaway PostgreSQL)";
  console.warn(`skipping "${name}": ${why}`);
  // Its body is not run: describe.skip runs it, and a block may make databases as it is collected.
  return describe.skip(name, () => test(why, () => {}));
}

/**
 * describe() for a block about SQLite itself (its files, WAL, query plans, its
 * two connections, .db backups). Under NOD_TEST_BACKEND=pg the servers run on
 * PostgreSQL, where none of that exists: the block is skipped, its body not
 * even run (it may set up what only SQLite has), and one line says why.
 */
export function describeSqlite(name: string, fn: () => void | Promise<void>) {
  if (process.env.NOD_TEST_BACKEND !== "pg") return describe(name, fn);
  return describe.skip(name, () => test("about SQLite itself: NOD_TEST_BACKEND=pg runs the servers on PostgreSQL", () => {}));
}

/** A new, empty database nod_test_<random> on the test server; drop() removes it (and ends its connections). */
export async function freshDatabase(): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  if (!PG_URL) throw new Error("NOD_TEST_DATABASE_URL is unset");
  const name = `nod_test_${randomHex(6)}`;
  const admin = new SQL(PG_URL, { max: 1 });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.close();
  }
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const sql = new SQL(PG_URL, { max: 1 });
      try {
        await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await sql.close();
      }
    },
  };
}
