// The PostgreSQL writer: the same group commit as SQLite's (unit-of-work.ts),
// over a pool. Units queued while no batch is committing go together in one
// transaction, each inside its own savepoint, so one failing unit rolls back
// only itself; the batch's effects leave once, after the COMMIT, and never
// for a unit that rolled back. Every statement is a round trip here, so a
// batch runs its units one after the other in microtasks and its callers hear
// back when the COMMIT answered: `now(fn)` always returns a promise.
//
// Units queued while a batch commits wait for it and then go together in the
// next one (bench/pg-writer.ts measures this against more batches at once,
// `maxBatches`). A deadlock or a serialization failure (SQLSTATE 40P01,
// 40001) takes back the whole transaction, so the whole batch runs again.
//
// With several instances on the database, the batch's effects are also told
// to the others by a NOTIFY inside the same transaction (pg-fanout.ts), and
// announced frames go to them too.
import type { BunSQLDatabase } from "drizzle-orm/bun-sql";
import type { SQL } from "bun";
import type * as pgSchema from "./schema-pg.ts";
import { belongsTo, type Db } from "./index.ts";
import { BatchWriter, mergeOutcomes, UnitOfWork, type InboxFrame, type Outcome, type Queued, type Writer } from "./unit-of-work.ts";
import type { PgFanout } from "./pg-fanout.ts";
import { isRetryable } from "./errors.ts";

/** The PostgreSQL store's drizzle handle over Bun.sql's pool. */
export type PgDb = BunSQLDatabase<typeof pgSchema> & { $client: SQL };
type PgTx = Parameters<Parameters<PgDb["transaction"]>[0]>[0];

/**
 * The services are typed against SQLite's drizzle (tables.ts hands them either
 * dialect's tables under SQLite's types): a PostgreSQL handle goes to them as
 * a Db, and the store's own code takes it back as what it is.
 */
export const asPg = (db: Db) => db as unknown as PgDb;
const asDb = (db: PgDb | PgTx) => db as unknown as Db;


export { isRetryable };

/** Attempts of a batch that hits a deadlock or a serialization failure. */
const ATTEMPTS = 5;
export class PgWriter extends BatchWriter implements Writer {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly maxBatches: number;
  /** Batches run again after a deadlock or a serialization failure. */
  retries = 0;
  /** Where committed effects also go to the other instances (set once the server runs). */
  private fanout: PgFanout | null = null;

  /** db: the store's pool (also ctx.db: PostgreSQL's readers see only committed rows anyway). */
  constructor(db: Db, opts: { onSinkError?: (e: unknown) => void; maxBatches?: number } = {}) {
    super(db, opts.onSinkError);
    this.maxBatches = opts.maxBatches ?? 1;
  }

  /** From now on, every batch tells the other instances its effects, and announced frames go to them too. */
  shareWith(fanout: PgFanout | null) {
    this.fanout = fanout;
  }

  override announce(frame: InboxFrame) {
    super.announce(frame);
    this.fanout?.announce(frame);
  }

  now<T>(fn: (uow: UnitOfWork) => Promise<T>): Promise<T>;
  now<T>(fn: (uow: UnitOfWork) => T): T;
  now<T>(fn: (uow: UnitOfWork) => T): T {
    // Typed as the interface has it while SQLite's synchronous units remain; here it is always a promise.
    return this.run(fn) as T;
  }

  /** Commits everything queued now (also at shutdown); settles once the batches in flight have committed too. */
  flush(): Promise<void> {
    const free = this.maxBatches - this.inFlight.size;
    if (free <= 0) return Promise.race(this.inFlight).then(() => this.flush());
    const queued = this.take();
    // With room for several batches, the queue is shared among them (each on its own connection).
    const size = Math.ceil(queued.length / free);
    for (let i = 0; i < queued.length; i += size) {
      const p = this.commit(queued.slice(i, i + size)).finally(() => {
        this.inFlight.delete(p);
        this.again();
      });
      this.inFlight.add(p);
    }
    return Promise.all(this.inFlight).then(() => {});
  }

  private async commit(batch: Queued[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let outcomes: Outcome[];
      try {
        outcomes = await asPg(this.db).transaction(async (tx) => {
          const out = batch.length === 1 ? await this.alone(tx, batch[0]!) : await this.units(tx, batch);
          // The NOTIFY leaves at the COMMIT, with it or not at all.
          if (this.fanout) await this.fanout.publish((q) => tx.execute(q), mergeOutcomes(out));
          return out;
        });
      } catch (e) {
        if (isRetryable(e) && attempt < ATTEMPTS) {
          this.retries++;
          await Bun.sleep(Math.random() * 10 * attempt); // apart from the transaction it ran into
          continue;
        }
        for (const item of batch) item.reject(e);
        return;
      }
      this.committed(batch, outcomes);
      return;
    }
  }

  /** Each unit in its savepoint (drizzle's nested transaction): a unit that throws takes back only its own rows. */
  private async units(tx: PgTx, batch: Queued[]): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    for (const item of batch) {
      let uow: UnitOfWork | undefined;
      try {
        const value = await tx.transaction(async (sp) => {
          uow = this.unitOfWork(sp);
          return await item.fn(uow);
        });
        outcomes.push({ ok: true, value, uow: uow! });
      } catch (e) {
        // A deadlock's locks were taken in this transaction: the batch runs again. No savepoint: the connection failed.
        if (isRetryable(e) || !uow) throw e;
        outcomes.push({ ok: false, value: e, uow });
      }
    }
    return outcomes;
  }

  /** A batch of one needs no savepoint (two round trips fewer): its transaction is its unit. */
  private async alone(tx: PgTx, item: Queued): Promise<Outcome[]> {
    const uow = this.unitOfWork(tx);
    const value = await item.fn(uow); // a throw rolls the transaction back and rejects its caller (commit above)
    return [{ ok: true, value, uow }];
  }

  private unitOfWork(tx: PgTx) {
    belongsTo(asDb(tx), this.db, false); // caches key on the store; what a unit reads is not committed yet
    return new UnitOfWork(asDb(tx));
  }
}
