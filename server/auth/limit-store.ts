// The counters behind the sign-in and setup limits (limits.ts), kept in the
// database (auth_limits, auth_known_addresses): a restart does not reset them,
// and processes sharing the database count together.
//
// Each key has one fixed window, as RateLimiter has in memory: the first
// attempt opens it for WINDOW_MS, later ones add to its count until it ends.
// Ended windows are pruned as attempts come in (a few rows at a time, through
// auth_limits_reset), so the table holds what the last 15 minutes left.
//
// Every method runs inside the caller's unit of work: the counts it reads and
// the hits it adds are one transaction. The statements are written once per
// dialect: SQLite's are compiled once per connection; PostgreSQL's go through
// the unit's transaction, and there the check begins with a transaction-level
// advisory lock (READ COMMITTED takes no lock for a read: without it, two
// instances could both read 9 and both count a 10th).
import { sql } from "drizzle-orm";
import type { Db } from "../db/index.ts";
import { prepared } from "../db/prepared.ts";
import { lockUntilCommit } from "../db/locks.ts";
import { rawRows } from "../db/rows.ts";
import { dialect } from "../db/tables.ts";
import { isoMs } from "../lib/time.ts";

export const WINDOW_MS = 15 * 60_000;
/** Addresses kept per username (the most recent sign-ins). */
export const KNOWN_PER_USER = 20;
/** Ended windows deleted per attempt: more than an attempt adds (4), so pruning keeps up. */
const PRUNE_PER_ATTEMPT = 50;

type Window = { count: number; resetAt: string };

/** The statements behind LimitCounters, one implementation per dialect. */
interface Statements {
  /** Deletes up to n ended windows, first thing in the transaction (it serializes the checks). */
  prune(now: string, n: number): Promise<void>;
  window(key: string, now: string): Promise<Window | undefined>;
  /** Counts one attempt; a window that has ended starts again at 1 (its row may not be pruned yet). */
  hit(key: string, now: string, resetAt: string): Promise<void>;
  /** Takes back one hit, and drops a window counted down to nothing. */
  release(key: string, now: string): Promise<void>;
  reset(key: string): Promise<void>;
  known(userKey: string, address: string): Promise<boolean>;
  /** Remembers the address; only the `keep` most recent of the user stay. */
  remember(userKey: string, address: string, now: string, keep: number): Promise<void>;
}

const SQLITE = {
  prune: "DELETE FROM auth_limits WHERE key IN (SELECT key FROM auth_limits WHERE reset_at <= ?1 LIMIT ?2)",
  get: "SELECT count, reset_at AS resetAt FROM auth_limits WHERE key = ?1 AND reset_at > ?2",
  hit: `INSERT INTO auth_limits (key, count, reset_at) VALUES (?1, 1, ?3)
        ON CONFLICT (key) DO UPDATE SET count = CASE WHEN reset_at > ?2 THEN count + 1 ELSE 1 END,
                                        reset_at = CASE WHEN reset_at > ?2 THEN reset_at ELSE ?3 END`,
  release: "UPDATE auth_limits SET count = count - 1 WHERE key = ?1 AND reset_at > ?2",
  dropEmpty: "DELETE FROM auth_limits WHERE key = ?1 AND count <= 0",
  reset: "DELETE FROM auth_limits WHERE key = ?1",
  known: "SELECT 1 AS known FROM auth_known_addresses WHERE user_key = ?1 AND address = ?2",
  remember: `INSERT INTO auth_known_addresses (user_key, address, last_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_key, address) DO UPDATE SET last_at = excluded.last_at`,
  forgetOld: `DELETE FROM auth_known_addresses WHERE user_key = ?1 AND address NOT IN
                (SELECT address FROM auth_known_addresses WHERE user_key = ?1 ORDER BY last_at DESC LIMIT ?2)`,
};

/** SQLite: the prune's DELETE takes the database's write lock (even when nothing has ended), whichever process shares the file. */
function sqliteStatements(db: Db): Statements {
  const stmt = (key: keyof typeof SQLITE) => prepared(db, `auth.limits.${key}`, (db) => db.$client.prepare(SQLITE[key]));
  return {
    prune: async (now, n) => void stmt("prune").run(now, n),
    window: async (key, now) => (stmt("get").get(key, now) as Window | null) ?? undefined,
    hit: async (key, now, resetAt) => void stmt("hit").run(key, now, resetAt),
    release: async (key, now) => {
      stmt("release").run(key, now);
      stmt("dropEmpty").run(key);
    },
    reset: async (key) => void stmt("reset").run(key),
    known: async (userKey, address) => stmt("known").get(userKey, address) !== null,
    remember: async (userKey, address, now, keep) => {
      stmt("remember").run(userKey, address, now);
      stmt("forgetOld").run(userKey, keep);
    },
  };
}

/** PostgreSQL: the prune first takes one advisory lock, held to the COMMIT, so instances check and count one attempt at a time. */
function pgStatements(db: Db): Statements {
  const run = <T = unknown>(q: ReturnType<typeof sql>) => rawRows<T>(db, q);
  return {
    prune: async (now, n) => {
      await lockUntilCommit(db, "signIn");
      await run(sql`DELETE FROM auth_limits WHERE key IN (SELECT key FROM auth_limits WHERE reset_at <= ${now} LIMIT ${n})`);
    },
    window: async (key, now) =>
      (await run<Window>(sql`SELECT count, reset_at AS "resetAt" FROM auth_limits WHERE key = ${key} AND reset_at > ${now}`))[0],
    hit: async (key, now, resetAt) =>
      void (await run(sql`INSERT INTO auth_limits AS l (key, count, reset_at) VALUES (${key}, 1, ${resetAt})
        ON CONFLICT (key) DO UPDATE SET count = CASE WHEN l.reset_at > ${now} THEN l.count + 1 ELSE 1 END,
                                        reset_at = CASE WHEN l.reset_at > ${now} THEN l.reset_at ELSE ${resetAt} END`)),
    release: async (key, now) => {
      await run(sql`UPDATE auth_limits SET count = count - 1 WHERE key = ${key} AND reset_at > ${now}`);
      await run(sql`DELETE FROM auth_limits WHERE key = ${key} AND count <= 0`);
    },
    reset: async (key) => void (await run(sql`DELETE FROM auth_limits WHERE key = ${key}`)),
    known: async (userKey, address) =>
      (await run(sql`SELECT 1 FROM auth_known_addresses WHERE user_key = ${userKey} AND address = ${address}`)).length > 0,
    remember: async (userKey, address, now, keep) => {
      await run(sql`INSERT INTO auth_known_addresses (user_key, address, last_at) VALUES (${userKey}, ${address}, ${now})
        ON CONFLICT (user_key, address) DO UPDATE SET last_at = excluded.last_at`);
      await run(sql`DELETE FROM auth_known_addresses WHERE user_key = ${userKey} AND address NOT IN
        (SELECT address FROM auth_known_addresses WHERE user_key = ${userKey} ORDER BY last_at DESC LIMIT ${keep})`);
    },
  };
}

/** The limit counters at one moment (`now`, in ms), within a unit of work. */
export class LimitCounters {
  private readonly nowIso: string;
  private readonly q: Statements;

  constructor(
    db: Db,
    private readonly now: number,
  ) {
    this.nowIso = isoMs(now);
    this.q = dialect === "pg" ? pgStatements(db) : sqliteStatements(db);
  }

  /**
   * Deletes a few ended windows. Run it first in the transaction: it takes the
   * lock (SQLite's write lock, PostgreSQL's advisory lock) even when nothing has
   * ended, so the counts read after it cannot change under the caller until the
   * commit, whichever process shares the database.
   */
  prune() {
    return this.q.prune(this.nowIso, PRUNE_PER_ATTEMPT);
  }

  /** Attempts counted for the key in its current window. */
  async count(key: string): Promise<number> {
    return (await this.q.window(key, this.nowIso))?.count ?? 0;
  }

  /** Seconds until the key may try again, or 0 while it is under the limit. */
  async retryAfter(key: string, limit: number): Promise<number> {
    const w = await this.q.window(key, this.nowIso);
    return w && w.count >= limit ? (Date.parse(w.resetAt) - this.now) / 1000 : 0;
  }

  hit(key: string) {
    return this.q.hit(key, this.nowIso, isoMs(this.now + WINDOW_MS));
  }

  /** Takes back one hit (an attempt counted up front that turned out fine). */
  release(key: string) {
    return this.q.release(key, this.nowIso);
  }

  reset(key: string) {
    return this.q.reset(key);
  }

  /** Whether the username signed in from the address lately. */
  isKnown(userKey: string, address: string): Promise<boolean> {
    return this.q.known(userKey, address);
  }

  /** Remembers a sign-in's address; only the KNOWN_PER_USER most recent stay. */
  remember(userKey: string, address: string) {
    return this.q.remember(userKey, address, this.nowIso, KNOWN_PER_USER);
  }
}
