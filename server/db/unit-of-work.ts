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
}

export type EffectSink = (effects: Effects) => void;

const emptyEffects = (): Effects => ({ inbox: [], deliver: new Set(), redeliver: new Set(), settled: [], closeAgents: [], closeSessions: [], tasksChanged: false, expiryChanged: false, pushQueued: false });

export class UnitOfWork {
  readonly effects = emptyEffects();
  constructor(readonly db: Db) {}

  toInbox(frame: InboxFrame) {
    this.effects.inbox.push(frame);
  }

  /** Queues an event for the agent (an outbox row in this transaction); returns its event id (evt_…). */
  toAgent(agentId: string, type: DeliveryType, body: Record<string, unknown>, at = isoMs()): string {
    const id = timeId("evt_");
    insertOutboxRow(this.db, { id, agentId, type, payload: JSON.stringify({ type, event_id: id, ...body }), at });
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
}

interface Queued {
  fn: (uow: UnitOfWork) => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/**
 * Runs units of work. `now` commits one at once (people's actions, the
 * scheduler); `run` is group commit for the hot paths: units that arrive in
 * the same turn of the event loop share one transaction, each inside its own
 * savepoint (one failing unit takes none of the others with it), and every
 * caller's promise settles only after the COMMIT — an event is on disk before
 * its request is answered, and the commit's cost is shared by the batch.
 */
export class Writer {
  private queue: Queued[] = [];
  private scheduled = false;
  private lazy: ReturnType<typeof setTimeout> | null = null;
  private sink: EffectSink = () => {};
  batches = 0;
  writes = 0;

  /**
   * db: the writer's own connection (the only one that writes; `ctx.db` reads on another).
   * onSinkError: the sink failed after a commit; the writes stand, the caller still gets its result.
   */
  constructor(
    readonly db: Db,
    private onSinkError: (e: unknown) => void = () => {},
  ) {}

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

  /** One transaction now; returns fn's result after the commit released its effects. */
  now<T>(fn: (uow: UnitOfWork) => T): T {
    const uow = new UnitOfWork(this.db);
    const result = this.db.$client.transaction(() => fn(uow))();
    this.release(uow.effects);
    return result;
  }

  /** fn inside the next batch's transaction; resolves with its result once committed. */
  run<T>(fn: (uow: UnitOfWork) => T): Promise<T> {
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
  soon<T>(fn: (uow: UnitOfWork) => T, withinMs = 20): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled && !this.lazy) this.lazy = setTimeout(() => this.flush(), withinMs);
    });
  }

  /** Commits everything queued now (also at shutdown). */
  flush() {
    this.scheduled = false;
    if (this.lazy) clearTimeout(this.lazy);
    this.lazy = null;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    const sqlite = this.db.$client;
    const tx = txStatements(this.db);
    const outcomes: { ok: boolean; value: unknown; uow: UnitOfWork }[] = [];
    try {
      tx.begin.run();
      for (const item of batch) {
        const uow = new UnitOfWork(this.db);
        tx.savepoint.run();
        try {
          const value = item.fn(uow);
          tx.release.run();
          outcomes.push({ ok: true, value, uow });
        } catch (e) {
          tx.rollbackTo.run();
          tx.release.run();
          outcomes.push({ ok: false, value: e, uow });
        }
      }
      tx.commit.run();
    } catch (e) {
      if (sqlite.inTransaction) sqlite.run("ROLLBACK");
      for (const item of batch) item.reject(e);
      return;
    }
    this.batches++;
    this.writes += batch.length;
    // The batch's effects leave together: one wake per agent, frames in order.
    const merged = emptyEffects();
    for (const o of outcomes) if (o.ok) mergeInto(merged, o.uow.effects);
    this.release(merged);
    batch.forEach((item, i) => (outcomes[i]!.ok ? item.resolve(outcomes[i]!.value) : item.reject(outcomes[i]!.value)));
  }

  private release(effects: Effects) {
    try {
      this.sink(effects);
    } catch (e) {
      this.onSinkError(e);
    }
  }
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
}
