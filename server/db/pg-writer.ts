// The PostgreSQL writer: the same group commit as SQLite's (unit-of-work.ts),
// over a pool. Units queued while no batch is committing go together in one
// transaction; the batch's effects leave once, after the COMMIT, and never
// for a unit that rolled back. Every statement is a round trip here, so the
// units run one after the other with their hot writes pipelined (prepared.ts
// pipelined()), and their callers hear back when the COMMIT answered: `now(fn)`
// always returns a promise. When a unit throws, the batch is rolled back and
// runs again with each unit inside its own savepoint, so one failing unit
// rolls back only itself (the savepoints cost two round trips a unit, paid
// only then).
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
import { pipelined } from "./prepared.ts";

/** A unit of a batch run together threw (its error is the cause): the batch runs again, each unit in its savepoint. */
class UnitFailed extends Error {
  constructor(cause: unknown) {
    super("a unit of the batch failed", { cause });
  }
}

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
    // First the whole batch in one transaction, its writes pipelined; if a unit
    // throws, that is rolled back and the batch runs again with each unit in its
    // own savepoint, so the failure stays with its unit (apart).
    let apart = false;
    for (let attempt = 1; ; attempt++) {
      let outcomes: Outcome[];
      try {
        outcomes = await asPg(this.db).transaction(async (tx) => (apart ? await this.units(tx, batch) : await this.together(tx, batch)));
      } catch (e) {
        if (e instanceof UnitFailed) {
          if (batch.length === 1) {
            batch[0]!.reject(e.cause);
            return;
          }
          apart = true;
          continue;
        }
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

  /**
   * Every unit straight in the transaction (no savepoints: two round trips fewer
   * a unit), their hot writes pipelined until the COMMIT. A unit that throws
   * (or a write that failed) takes the batch back: UnitFailed.
   */
  private async together(tx: PgTx, batch: Queued[]): Promise<Outcome[]> {
    const db = asDb(tx);
    const uows = batch.map(() => this.unitOfWork(tx));
    try {
      return await pipelined(db, async () => {
        const outcomes: Outcome[] = [];
        for (let i = 0; i < batch.length; i++) outcomes.push({ ok: true, value: await batch[i]!.fn(uows[i]!), uow: uows[i]! });
        await this.publish(tx, outcomes); // pipelined too: sent behind the last writes
        return outcomes;
      });
    } catch (e) {
      if (isRetryable(e)) throw e; // the whole batch runs again, as it was
      throw new UnitFailed(e);
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
          return await pipelined(asDb(sp), async () => item.fn(uow!));
        });
        outcomes.push({ ok: true, value, uow: uow! });
      } catch (e) {
        // A deadlock's locks were taken in this transaction: the batch runs again. No savepoint: the connection failed.
        if (isRetryable(e) || !uow) throw e;
        outcomes.push({ ok: false, value: e, uow });
      }
    }
    await this.publish(tx, outcomes);
    return outcomes;
  }

  /** Tells the other instances what the batch did: a NOTIFY in its transaction, which leaves at the COMMIT, with it or not at all. */
  private async publish(tx: PgTx, outcomes: Outcome[]) {
    if (this.fanout) await this.fanout.publish(asDb(tx), mergeOutcomes(outcomes));
  }

  private unitOfWork(tx: PgTx) {
    belongsTo(asDb(tx), this.db, false); // caches key on the store; what a unit reads is not committed yet
    return new UnitOfWork(asDb(tx));
  }
}
