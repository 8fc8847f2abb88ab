// Group commit for the hot paths. Under load many requests arrive in the same
// turn of the event loop; instead of one SQLite commit each, their writes are
// queued and run together in one transaction at the next turn, each inside its
// own savepoint (so one failing write does not take the others with it). Every
// caller's promise settles only after the COMMIT: an event is on disk before
// its request is answered, and the commit's cost is shared by the batch.
import type { Db } from "./index.ts";

interface Pending {
  fn: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;
  batches = 0;
  writes = 0;

  constructor(private db: Db) {}

  /** Runs fn inside the next batch's transaction; resolves with its result once committed. */
  run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Runs everything queued now (also used at shutdown). */
  flush() {
    this.scheduled = false;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    const sqlite = this.db.$client;
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      sqlite.run("BEGIN IMMEDIATE");
      for (const item of batch) {
        sqlite.run("SAVEPOINT gc");
        try {
          const value = item.fn();
          sqlite.run("RELEASE gc");
          outcomes.push({ ok: true, value });
        } catch (e) {
          sqlite.run("ROLLBACK TO gc");
          sqlite.run("RELEASE gc");
          outcomes.push({ ok: false, value: e });
        }
      }
      sqlite.run("COMMIT");
    } catch (e) {
      if (sqlite.inTransaction) sqlite.run("ROLLBACK");
      for (const item of batch) item.reject(e);
      return;
    }
    this.batches++;
    this.writes += batch.length;
    batch.forEach((item, i) => (outcomes[i]!.ok ? item.resolve(outcomes[i]!.value) : item.reject(outcomes[i]!.value)));
  }
}
