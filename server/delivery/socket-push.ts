// Handing events to an agent's socket, and knowing when they have left.
//
// Handing a frame to the socket is not delivering it: Bun keeps what the
// kernel does not take at once in the process's memory (send() returns -1),
// and inside a socket's own callbacks every send waits in its cork buffer,
// so a crash could still lose it. An event counts as delivered only once its
// bytes have left the process: at a check in a later turn of the event loop
// (outside any cork) that finds the socket's buffer empty, or else at the
// drain that empties it. Until then the row stays pending in the database: a
// crash replays it at the next auth, a socket that closes first lets it go to
// the webhook or the next socket. A stalled reader thus holds at most one
// batch of handed-over events.
//
// The "delivered" marks are written through the writer's group commit
// (Writer.soon): they share a commit with the writes around them instead of
// taking one of their own. Until their commit, the rows are still pending in
// the database, so they are kept aside (not handed out again, nor sent to the webhook).
//
// Reading the queue awaits the store, so one socket's rounds are run one at a
// time: a round asked for while one is under way runs after it (two rounds
// reading the same rows at once could hand an event out twice).
import type { AgentSocket } from "../realtime/sockets.ts";
import type { Db } from "../db/index.ts";
import type { UnitOfWork, Writer } from "../db/unit-of-work.ts";
import { markSocketDelivered, undeliveredRows, type RowRef } from "./outbox-queries.ts";

/** Events read and handed over per round. */
export const PUSH_BATCH = 200;

export interface SocketPushHooks {
  db: () => Db;
  writer: () => Writer;
  /** A batch of delivered marks could not be written (the database is closing): the rows stay pending. */
  markFailed(agentId: string, error: unknown): void;
  /** Rows whose webhook POST is under way (until its outcome has committed): that attempt decides, the lane comes back to them. */
  inflight: Set<string>;
  /** Rows that reached the agent over this socket (already marked delivered). */
  delivered(agentId: string, ws: AgentSocket, rows: RowRef[]): void;
  /** The socket's buffer emptied: the agent's next batch may follow. */
  flushed(agentId: string, ws: AgentSocket): void;
}

export class SocketPush {
  /** Events handed to each socket whose bytes may not have left the process yet. */
  private handed = new WeakMap<AgentSocket, Map<string, RowRef>>();
  /** Rows whose bytes have left, while their delivered mark waits for its commit. */
  private marking = new Set<string>();
  /** Those marks: each settles once its COMMIT (or failure) has been handled. */
  private marks = new Set<Promise<void>>();
  /** Sockets whose last round stopped before the agent's queue was empty: their flush brings the next round. */
  private more = new WeakSet<AgentSocket>();
  private checks = new WeakSet<AgentSocket>();
  /** Per socket: the last event id it was handed in order, and the agent's rewind count it read under. */
  private cursors = new WeakMap<AgentSocket, { after: string; epoch: number }>();
  private epochs = new Map<string, number>();
  /** Per socket: the round under way, and whether another was asked for meanwhile. */
  private rounds = new WeakMap<AgentSocket, Promise<"sent" | "closed">>();
  private asked = new WeakSet<AgentSocket>();
  stopped = false;

  constructor(private hooks: SocketPushHooks) {}

  /**
   * Hands the agent's oldest undelivered events to the socket; "closed" when the socket dropped them (it is closing).
   * While a round for the socket is under way, one more follows it (and this resolves with that round's outcome).
   */
  pushBatch(agentId: string, ws: AgentSocket): Promise<"sent" | "closed"> {
    const running = this.rounds.get(ws);
    if (running) {
      this.asked.add(ws);
      return running;
    }
    const rounds = this.roundsFor(agentId, ws);
    this.rounds.set(ws, rounds);
    return rounds;
  }

  private async roundsFor(agentId: string, ws: AgentSocket): Promise<"sent" | "closed"> {
    try {
      for (;;) {
        this.asked.delete(ws);
        const outcome = await this.round(agentId, ws);
        if (outcome === "closed" || !this.asked.has(ws)) return outcome;
      }
    } finally {
      this.rounds.delete(ws); // at once, not a microtask later: a round asked for from now on starts anew
    }
  }

  private async round(agentId: string, ws: AgentSocket): Promise<"sent" | "closed"> {
    let handed = this.handed.get(ws);
    if (!handed) this.handed.set(ws, (handed = new Map()));
    // Bytes still in memory from earlier frames: adding more would only grow them; the drain brings the rest.
    if ((ws.getBufferedAmount?.() ?? 0) > 0) {
      this.more.add(ws);
      return "sent";
    }
    const cursor = this.cursorOf(agentId, ws);
    // A row being marked, or with a webhook attempt under way, when the read
    // begins may have its outcome committed before the read answers (on
    // PostgreSQL the read can see the database as it was): the read's
    // "pending" does not tell, so such rows are treated as still set aside.
    const marking = new Set(this.marking);
    const inflight = new Set(this.hooks.inflight);
    const rows = await undeliveredRows(this.hooks.db(), agentId, PUSH_BATCH, cursor.after);
    if (rows.length === PUSH_BATCH) this.more.add(ws);
    let held = false; // a row before this one was left behind: the cursor stays before it
    for (const row of rows) {
      if (handed.has(row.id) || this.marking.has(row.id) || marking.has(row.id)) continue;
      if (this.hooks.inflight.has(row.id) || inflight.has(row.id)) {
        this.more.add(ws); // its webhook attempt decides; if it fails, a later round takes it
        held = true;
        continue;
      }
      const n = ws.send(row.payload);
      if (n === 0) {
        if (ws.readyState !== 1) return "closed";
        this.more.add(ws);
        break; // open but over its backpressure limit: not sent, the drain brings the rest
      }
      handed.set(row.id, row);
      if (!held) cursor.after = row.id;
      this.checkSoon(agentId, ws);
      if (n === -1) {
        this.more.add(ws);
        break; // buffered in memory: the socket is backed up, the rest follows on drain
      }
    }
    return "sent";
  }

  /**
   * Where the socket's next round starts reading: after the last event it was
   * handed (rows handed or being marked are not read again each round). Rows
   * put back in the queue (rewind) may be older: then it reads from the start.
   */
  private cursorOf(agentId: string, ws: AgentSocket) {
    const epoch = this.epochs.get(agentId) ?? 0;
    let c = this.cursors.get(ws);
    if (!c || c.epoch !== epoch) this.cursors.set(ws, (c = { after: "", epoch }));
    return c;
  }

  /** Older events of the agent are pending again: its sockets read the whole queue next round. */
  rewind(agentId: string) {
    this.epochs.set(agentId, (this.epochs.get(agentId) ?? 0) + 1);
  }

  /** The row reached a socket and its delivered mark waits for its commit: pending in the database, yet not to be sent again. */
  isMarking(id: string) {
    return this.marking.has(id);
  }

  /** Settles once the delivered marks written so far have committed (or failed: their rows are pending again). */
  async marksSettled() {
    await Promise.allSettled(this.marks);
  }

  /** The socket's send buffer emptied (or shrank): what waited in it may have left. */
  drained(agentId: string, ws: AgentSocket) {
    this.checkSoon(agentId, ws);
  }

  /**
   * The socket closed; resolves with whether events handed to it were still in memory
   * (they are pending yet and go elsewhere).
   */
  async closed(ws: AgentSocket): Promise<boolean> {
    const handed = this.handed.get(ws);
    this.handed.delete(ws);
    // Marks still waiting for their commit are written first: what left over this socket
    // must count as delivered before its events are looked at again (requeued, or sent
    // to the webhook or another socket). The flush settles after their COMMIT.
    if (this.marking.size) await this.hooks.writer().flush();
    return (handed?.size ?? 0) > 0;
  }

  private checkSoon(agentId: string, ws: AgentSocket) {
    if (this.checks.has(ws)) return;
    this.checks.add(ws);
    setImmediate(() => {
      this.checks.delete(ws);
      this.confirm(agentId, ws);
    });
  }

  /**
   * Runs in its own turn of the event loop, so no cork holds our frames: an
   * empty buffer means every frame handed to the socket so far is with the
   * kernel (bytes leave in order). A non-empty buffer waits for the drain.
   */
  private confirm(agentId: string, ws: AgentSocket) {
    if (this.stopped || ws.readyState !== 1) return;
    if ((ws.getBufferedAmount?.() ?? 0) > 0) return;
    const handed = this.handed.get(ws);
    if (handed?.size) {
      const rows = Array.from(handed, ([, row]) => row);
      handed.clear();
      for (const row of rows) {
        this.marking.add(row.id);
        ws.data?.pushed?.(row.id);
      }
      const unmark = () => rows.forEach((r) => this.marking.delete(r.id));
      // A backlog's next round waits for these marks (it would read the same rows
      // again): then they commit at once; otherwise with the writes around them.
      const more = this.more.has(ws);
      this.more.delete(ws);
      const writer = this.hooks.writer();
      // Set aside until the commit (if it fails, they are pending and may go out again: at-least-once).
      const mark = async (uow: UnitOfWork) => markSocketDelivered(uow.db, rows);
      const settled = (more ? writer.run(mark) : writer.soon(mark)).then(
        (marked) => {
          unmark();
          if (marked.length) this.hooks.delivered(agentId, ws, marked);
          if (more) this.hooks.flushed(agentId, ws);
        },
        (e) => {
          unmark();
          this.hooks.markFailed(agentId, e);
        },
      );
      this.marks.add(settled);
      settled.finally(() => this.marks.delete(settled)).catch(() => {});
      return;
    }
    // Only a round that stopped early has more to send: new events wake the dispatcher themselves.
    if (this.more.has(ws)) {
      this.more.delete(ws);
      this.hooks.flushed(agentId, ws);
    }
  }
}
