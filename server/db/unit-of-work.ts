// The one write path. A service does its writes inside a unit of work and
// declares there what must follow once they are on disk: frames for the open
// inboxes, events for an agent (their outbox rows are written in the same
// transaction), requests that were settled, sockets to close, notifications
// for people. Only a successful commit releases these effects, through the
// one sink the server installs (server/effects.ts); a rollback drops them.
//
//   agent event → service → unit of work (rows + effects) → commit → effects
//
// Services never reach for sockets, the dispatcher or the scheduler: they
// only say what happened. That seam is what a second storage backend (or a
// second process) implements: run the writes in one transaction, then hand
// the effects to the sink, or to the other processes.
import type { Db } from "./index.ts";
import { timeId } from "../lib/ids.ts";
import { isoMs } from "../lib/time.ts";
import { insertOutboxRow, type DeliveryType } from "./outbox.ts";
import { prepared } from "./prepared.ts";

// The group commit's own statements, compiled once (not once per batch and unit).
const txStatements = (db: Db) =>
  prepared(db, "writer.tx", (db) => {
    const c = db.$client;
    return {
      begin: c.prepare("BEGIN IMMEDIATE"),
      savepoint: c.prepare("SAVEPOINT uow"),
      release: c.prepare("RELEASE uow"),
      rollbackTo: c.prepare("ROLLBACK TO uow"),
      commit: c.prepare("COMMIT"),
    };
  });

/** A frame for every open inbox (/ws/app): a `type` and the object it concerns. */
export interface InboxFrame {
  type: string;
  [key: string]: unknown;
}

/** What a committed unit of work asks the rest of the server to do. */
export interface Effects {
  /** Frames for every open inbox, in the order they were declared. */
  inbox: InboxFrame[];
  /** Agents with something new (or due again) in their outbox. */
  deliver: Set<string>;
  /** Agents whose older outbox rows were put back in the queue (they are looked for again, not only new ones). */
  redeliver: Set<string>;
  /** Requests that stopped being pending: long-polls waiting on them answer. */
  settled: string[];
  /** Agents whose sockets must close (deleted, or their secret changed). */
  closeAgents: { agentId: string; code: number; reason: string }[];
  /** Signed-out sessions (token hashes) whose inbox sockets must close. */
  closeSessions: string[];
  /** Tasks were created, changed or deleted: the scheduler looks again. */
  tasksChanged: boolean;
  /** A request with a due time (expires_at) was created: the expiry loop looks again. */
  expiryChanged: boolean;
  /** Notifications for people's devices were queued (push/notices.ts notifyPeople): the push sender looks again. */
  pushQueued: boolean;
  /**
   * Entries of the caches reads fill (store-cache.ts) whose rows this unit
   * changed. This process drops them itself (afterCommit); they are listed for
   * the other instances on the same PostgreSQL database (pg-fanout.ts).
   */
  forget: { cache: string; key: string }[];
  /** Agent sockets that opened or closed on an instance (PostgreSQL's agent_sockets; realtime/presence-pg.ts). */
  sockets: SocketChange[];
}

/** A socket's row in agent_sockets came (openedAt set) or went (openedAt null). */
export interface SocketChange {
  agentId: string;
  sessionId: string;
  instanceId: string;
  openedAt: number | null;
  /**
   * A close after which its instance did not tell the inboxes the agent went
   * offline, because it knew of a socket on another instance: that one may
   * have closed meanwhile, unheard (sockets.ts remoteChanged).
   */
  unannounced?: true;
}

export type EffectSink = (effects: Effects) => void;

export const emptyEffects = (): Effects => ({
  inbox: [],
  deliver: new Set(),
  redeliver: new Set(),
  settled: [],
  closeAgents: [],
  closeSessions: [],
  tasksChanged: false,
  expiryChanged: false,
  pushQueued: false,
  forget: [],
  sockets: [],
});

export class UnitOfWork {
  readonly effects = emptyEffects();
  /** Run after the COMMIT, before the effects leave (see afterCommit). */
  readonly committed: (() => void)[] = [];
  constructor(readonly db: Db) {}

  /**
   * fn runs once this unit is committed (not at all if it rolls back), before
   * its effects leave and its caller hears back: for caches that reads fill
   * (known agents, signed-in sessions). Dropping an entry only inside the unit
   * is not enough once units await: a read on the other connection between the
   * drop and the COMMIT still sees the old row and would keep it again.
   */
  afterCommit(fn: () => void) {
    this.committed.push(fn);
  }

  toInbox(frame: InboxFrame) {
    this.effects.inbox.push(frame);
  }

  /** Queues an event for the agent (an outbox row in this transaction); resolves to its event id (evt_…). */
  async toAgent(agentId: string, type: DeliveryType, body: Record<string, unknown>, at = isoMs()): Promise<string> {
    const id = timeId("evt_");
    await insertOutboxRow(this.db, { id, agentId, type, payload: JSON.stringify({ type, event_id: id, ...body }), at });
    this.effects.deliver.add(agentId);
    return id;
  }

  /** Outbox rows of the agent were put back in the queue: deliver them again. */
  redeliver(agentId: string) {
    this.effects.redeliver.add(agentId);
  }

  settled(decisionId: string) {
    this.effects.settled.push(decisionId);
  }

  closeAgentSockets(agentId: string, code: number, reason: string) {
    this.effects.closeAgents.push({ agentId, code, reason });
  }

  closeSessionSockets(tokenHash: string) {
    this.effects.closeSessions.push(tokenHash);
  }

  tasksChanged() {
    this.effects.tasksChanged = true;
  }

  pushQueued() {
    this.effects.pushQueued = true;
  }

  expiryChanged() {
    this.effects.expiryChanged = true;
  }

  /** An agent socket's row was written or deleted: other instances update who is online where. */
  socketChanged(change: SocketChange) {
    this.effects.sockets.push(change);
  }

  /** A cache entry (store-cache.ts) whose row this unit changed: other instances drop it too. */
  cacheChanged(cache: string, key: string) {
    this.effects.forget.push({ cache, key });
  }
}

export interface Queued {
  fn: (uow: UnitOfWork) => unknown | Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/** How one unit of a batch ended: its result or its error, and what it declared. */
export interface Outcome {
  ok: boolean;
  value: unknown;
  uow: UnitOfWork;
}

/**
 * Runs units of work. `now` commits one at once (people's actions, the
 * scheduler); `run` is group commit for the hot paths: units that arrive in
 * the same turn of the event loop share one transaction, each inside its own
 * savepoint (one failing unit takes none of the others with it), and every
 * caller's promise settles only after the COMMIT — an event is on disk before
 * its request is answered, and the commit's cost is shared by the batch.
 * SqliteWriter (below) and PgWriter (pg-writer.ts) are the two stores' writers.
 */
export interface Writer {
  /** The connection units write through outside a batch (tests, the SQLite checkpointer). */
  readonly db: Db;
  /** Transactions committed, and the units in them (bench and tests compare the two). */
  readonly batches: number;
  readonly writes: number;
  setSink(sink: EffectSink): void;
  announce(frame: InboxFrame): void;
  /**
   * One unit now. On SQLite a synchronous fn commits before now() returns and
   * its result comes back as is; an async fn joins the queue. On PostgreSQL
   * every unit is asynchronous: now() always returns a promise.
   */
  now<T>(fn: (uow: UnitOfWork) => Promise<T>): Promise<T>;
  now<T>(fn: (uow: UnitOfWork) => T): T;
  run<T>(fn: (uow: UnitOfWork) => T | Promise<T>): Promise<T>;
  soon<T>(fn: (uow: UnitOfWork) => T | Promise<T>, withinMs?: number): Promise<T>;
  /** Commits everything queued now (also at shutdown); a promise while a batch awaits. */
  flush(): void | Promise<void>;
}

/**
 * What both writers share: the queue that `run` and `soon` fill, the sink, and
 * what follows a COMMIT (afterCommit hooks, the batch's effects merged and
 * released once, each caller settled). Each store's writer adds how a batch
 * is committed (flush) and `now`.
 */
export abstract class BatchWriter {
  protected queue: Queued[] = [];
  protected scheduled = false;
  protected lazy: ReturnType<typeof setTimeout> | null = null;
  private sink: EffectSink = () => {};
  batches = 0;
  writes = 0;

  constructor(
    readonly db: Db,
    /** The sink failed after a commit; the writes stand, the caller still gets its result. */
    private onSinkError: (e: unknown) => void = () => {},
  ) {}

  abstract flush(): void | Promise<void>;

  /** Where committed effects go; the server installs it once its sockets and loops exist. */
  setSink(sink: EffectSink) {
    this.sink = sink;
  }

  /** A live frame with no write behind it (presence, "Thinking…"): the same sink, at once. */
  announce(frame: InboxFrame) {
    const effects = emptyEffects();
    effects.inbox.push(frame);
    this.release(effects);
  }

  /**
   * fn inside the next batch's transaction; resolves with its result once committed.
   * fn may be async: on SQLite the batch then goes on in microtasks, one unit after
   * the other, and still ends within the same macrotask as long as the units await
   * nothing but their queries (drizzle's SQLite queries run when awaited).
   */
  run<T>(fn: (uow: UnitOfWork) => T | Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /**
   * fn joins the next batch whenever one is committed anyway, and at the latest
   * `withinMs` from now: for writes nobody waits on (an event's "delivered"
   * mark), so they share a commit with the traffic around them.
   */
  soon<T>(fn: (uow: UnitOfWork) => T | Promise<T>, withinMs = 20): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled && !this.lazy) this.lazy = setTimeout(() => this.flush(), withinMs);
    });
  }

  /** The queued units, for a batch: the queue starts again empty and no flush is due. */
  protected take(): Queued[] {
    this.scheduled = false;
    if (this.lazy) clearTimeout(this.lazy);
    this.lazy = null;
    const batch = this.queue;
    this.queue = [];
    return batch;
  }

  /** Units queued while a batch was committing go in the next one. */
  protected again() {
    if (this.queue.length && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /**
   * After the batch's COMMIT: the committed units' afterCommit hooks, then their
   * effects leave together (one wake per agent, frames in order), then each
   * caller hears back. A rolled-back unit's hooks and effects are dropped.
   */
  protected committed(batch: Queued[], outcomes: Outcome[]) {
    this.batches++;
    this.writes += batch.length;
    for (const o of outcomes) if (o.ok) runCommitted(o.uow);
    this.release(mergeOutcomes(outcomes));
    batch.forEach((item, i) => (outcomes[i]!.ok ? item.resolve(outcomes[i]!.value) : item.reject(outcomes[i]!.value)));
  }

  /** One unit committed on its own (SQLite's synchronous now): its hooks, then its effects. */
  protected committedOne(uow: UnitOfWork) {
    runCommitted(uow);
    this.release(uow.effects);
  }

  protected release(effects: Effects) {
    try {
      this.sink(effects);
    } catch (e) {
      this.onSinkError(e);
    }
  }
}

/** The SQLite writer: one connection, BEGIN IMMEDIATE … COMMIT per batch, a batch within one macrotask. */
export class SqliteWriter extends BatchWriter implements Writer {
  // The batch that is awaiting its units (none while every unit is synchronous).
  private inFlight: Promise<void> | null = null;

  /** db: the writer's own connection (the only one that writes; `ctx.db` reads on another). */
  constructor(db: Db, onSinkError?: (e: unknown) => void) {
    super(db, onSinkError);
  }

  /**
   * One transaction now; returns fn's result after the commit released its effects.
   * An async fn (step 2 of the store seam, docs/scale.md) joins the queue instead:
   * it starts with the next batch, at the start of a macrotask, and the promise
   * settles after that COMMIT.
   */
  now<T>(fn: (uow: UnitOfWork) => Promise<T>): Promise<T>;
  now<T>(fn: (uow: UnitOfWork) => T): T;
  now<T>(fn: (uow: UnitOfWork) => T): T {
    if (fn.constructor.name === "AsyncFunction") return this.run(fn) as T;
    if (this.inFlight) throw new Error("writer.now inside a batch that awaits: a unit of work may await only its own queries (uow.db)");
    const uow = new UnitOfWork(this.db);
    const result = this.db.$client.transaction(() => {
      const r = fn(uow);
      // thrown inside the transaction, so nothing of it is committed
      if (isThenable(r)) throw new Error("writer.now: a unit that returns a promise must be an async function");
      return r;
    })();
    this.committedOne(uow);
    return result;
  }

  /**
   * Commits everything queued now (also at shutdown). Synchronous while every
   * unit is; from the first unit that returns a promise on, the rest of the batch
   * runs in microtasks and the returned promise settles after its COMMIT.
   */
  flush(): void | Promise<void> {
    if (this.inFlight) return this.inFlight.then(() => this.flush());
    const batch = this.take();
    if (batch.length === 0) return;
    const tx = txStatements(this.db);
    const outcomes: Outcome[] = [];
    try {
      tx.begin.run();
    } catch (e) {
      for (const item of batch) item.reject(e);
      return;
    }
    let pending: Promise<void> | undefined;
    try {
      pending = this.units(batch, outcomes);
    } catch (e) {
      return this.fail(batch, e);
    }
    if (!pending) return this.commit(batch, outcomes);
    this.inFlight = pending;
    return pending;
  }

  /** The batch's units, each in its savepoint, while they are synchronous; from the first that returns a promise on, rest(). */
  private units(batch: Queued[], outcomes: Outcome[]): Promise<void> | undefined {
    for (let i = 0; i < batch.length; i++) {
      const started = this.start(batch[i]!, outcomes);
      if (started) return this.rest(batch, outcomes, i, started);
    }
    return undefined;
  }

  /**
   * The rest of a batch once unit i returned a promise: each unit awaited in
   * turn, then the COMMIT (or the ROLLBACK). One async function rather than a
   * chain of then()s: fewer promises and closures per event on the hot path.
   */
  private async rest(batch: Queued[], outcomes: Outcome[], from: number, first: Started): Promise<void> {
    try {
      for (let i = from; i < batch.length; i++) {
        const started = i === from ? first : this.start(batch[i]!, outcomes);
        if (!started) continue;
        let ok = true;
        let value: unknown;
        try {
          value = await started.pending;
        } catch (e) {
          ok = false;
          value = e;
        }
        this.unitDone(outcomes, started.uow, ok, value);
      }
      this.commit(batch, outcomes);
    } catch (e) {
      this.fail(batch, e);
    } finally {
      this.inFlight = null;
      this.again();
    }
  }

  /** Starts one unit in its savepoint: what it is waiting on if it returned a promise; else its outcome is recorded. */
  private start(item: Queued, outcomes: Outcome[]): Started | undefined {
    const uow = new UnitOfWork(this.db);
    txStatements(this.db).savepoint.run();
    let value: unknown;
    try {
      value = item.fn(uow);
    } catch (e) {
      this.unitDone(outcomes, uow, false, e);
      return undefined;
    }
    if (isThenable(value)) return { uow, pending: value };
    this.unitDone(outcomes, uow, true, value);
    return undefined;
  }

  private unitDone(outcomes: Outcome[], uow: UnitOfWork, ok: boolean, value: unknown) {
    const tx = txStatements(this.db);
    if (!ok) tx.rollbackTo.run();
    tx.release.run();
    outcomes.push({ ok, value, uow });
  }

  private commit(batch: Queued[], outcomes: Outcome[]) {
    try {
      txStatements(this.db).commit.run();
    } catch (e) {
      return this.fail(batch, e);
    }
    this.committed(batch, outcomes);
  }

  private fail(batch: Queued[], e: unknown) {
    const sqlite = this.db.$client;
    if (sqlite.inTransaction) sqlite.run("ROLLBACK");
    for (const item of batch) item.reject(e);
  }
}

/** A unit of a batch that returned a promise. */
interface Started {
  uow: UnitOfWork;
  pending: PromiseLike<unknown>;
}

const isThenable = (v: unknown): v is PromiseLike<unknown> => typeof (v as { then?: unknown } | null)?.then === "function";

function runCommitted(uow: UnitOfWork) {
  for (const fn of uow.committed) fn();
}

/** The committed units' effects, merged (one wake per agent, frames in order). */
export function mergeOutcomes(outcomes: Outcome[]): Effects {
  const merged = emptyEffects();
  for (const o of outcomes) if (o.ok) mergeInto(merged, o.uow.effects);
  return merged;
}

function mergeInto(into: Effects, e: Effects) {
  for (const f of e.inbox) into.inbox.push(f);
  for (const a of e.deliver) into.deliver.add(a);
  for (const a of e.redeliver) into.redeliver.add(a);
  for (const id of e.settled) into.settled.push(id);
  for (const c of e.closeAgents) into.closeAgents.push(c);
  for (const s of e.closeSessions) into.closeSessions.push(s);
  into.tasksChanged ||= e.tasksChanged;
  into.expiryChanged ||= e.expiryChanged;
  into.pushQueued ||= e.pushQueued;
  for (const f of e.forget) into.forget.push(f);
  for (const c of e.sockets) into.sockets.push(c);
}
