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
// the hits it adds are one transaction.
import type { Db } from "../db/index.ts";
import { prepared } from "../db/prepared.ts";
import { isoMs } from "../lib/time.ts";

export const WINDOW_MS = 15 * 60_000;
/** Addresses kept per username (the most recent sign-ins). */
export const KNOWN_PER_USER = 20;
/** Ended windows deleted per attempt: more than an attempt adds (4), so pruning keeps up. */
const PRUNE_PER_ATTEMPT = 50;

const SQL = {
  prune: "DELETE FROM auth_limits WHERE key IN (SELECT key FROM auth_limits WHERE reset_at <= ?1 LIMIT ?2)",
  get: "SELECT count, reset_at AS resetAt FROM auth_limits WHERE key = ?1 AND reset_at > ?2",
  // A window that has ended starts again at 1 (its row may not be pruned yet).
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

const stmt = (db: Db, key: keyof typeof SQL) => prepared(db, `auth.limits.${key}`, (db) => db.$client.prepare(SQL[key]));

/** The limit counters at one moment (`now`, in ms), within a unit of work. */
export class LimitCounters {
  private readonly nowIso: string;

  constructor(
    private readonly db: Db,
    private readonly now: number,
  ) {
    this.nowIso = isoMs(now);
  }

  /**
   * Deletes a few ended windows. Run it first in the transaction: its DELETE
   * takes the write lock (even when nothing has ended), so the counts read
   * after it cannot change under the caller until the commit, whichever
   * process shares the database.
   */
  prune() {
    stmt(this.db, "prune").run(this.nowIso, PRUNE_PER_ATTEMPT);
  }

  /** Attempts counted for the key in its current window. */
  count(key: string): number {
    return this.window(key)?.count ?? 0;
  }

  /** Seconds until the key may try again, or 0 while it is under the limit. */
  retryAfter(key: string, limit: number): number {
    const w = this.window(key);
    return w && w.count >= limit ? (Date.parse(w.resetAt) - this.now) / 1000 : 0;
  }

  hit(key: string) {
    stmt(this.db, "hit").run(key, this.nowIso, isoMs(this.now + WINDOW_MS));
  }

  /** Takes back one hit (an attempt counted up front that turned out fine). */
  release(key: string) {
    stmt(this.db, "release").run(key, this.nowIso);
    stmt(this.db, "dropEmpty").run(key);
  }

  reset(key: string) {
    stmt(this.db, "reset").run(key);
  }

  /** Whether the username signed in from the address lately. */
  isKnown(userKey: string, address: string): boolean {
    return stmt(this.db, "known").get(userKey, address) !== null;
  }

  /** Remembers a sign-in's address; only the KNOWN_PER_USER most recent stay. */
  remember(userKey: string, address: string) {
    stmt(this.db, "remember").run(userKey, address, this.nowIso);
    stmt(this.db, "forgetOld").run(userKey, KNOWN_PER_USER);
  }

  private window(key: string) {
    return stmt(this.db, "get").get(key, this.nowIso) as { count: number; resetAt: string } | null;
  }
}
