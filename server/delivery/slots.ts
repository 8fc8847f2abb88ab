// Slots for webhook POSTs in flight, over all agents, and who waits for one.
//
// Why a cap below Bun's: Bun's fetch holds at most 256 connections at once per
// process (BUN_CONFIG_MAX_HTTP_REQUESTS, read once at start); a request beyond
// that waits inside Bun, its timeout already running, behind requests that may
// hang for their whole timeout. So nod keeps its own POSTs well below that
// (MAX_POSTS): the one queue is nod's, and a POST's timeout starts only when it
// has a slot and is sent.
//
// Why hung receivers give way: a receiver that accepts and never answers holds
// its slot for the whole timeout (30 s). With enough of them every other
// agent's webhooks would wait that long. So:
// - A POST unanswered after SLOW_MS is "slow". The oldest MAX_SLOW slow POSTs
//   keep their slots to their own timeout; while a lane waits for a slot, any
//   other slow POST gives way: it is aborted and counts as a timed-out attempt
//   (retried like one). Broken receivers thus hold at most MAX_SLOW slots, and
//   the other MAX_POSTS − MAX_SLOW turn over within SLOW_MS however many hang.
// - Waiting lanes are served by how their receiver did last time: "answered"
//   (its last POST was answered within SLOW_MS) first, then "untried" (no POST
//   since the server started), then "slow". So an agent whose receiver answers
//   gets the next free slot: a thousand broken receivers delay it by about
//   SLOW_MS at most. A receiver never tried yet waits behind the other untried
//   ones (a burst of new receivers that all hang turns over MAX_POSTS −
//   MAX_SLOW of them per SLOW_MS).

/** POSTs in flight at once (Bun's fetch allows 256 connections per process). */
export const MAX_POSTS = 192;
/** Slow POSTs that keep their slots until their own timeout. */
export const MAX_SLOW = 128;
/** A POST unanswered this long is slow, and may have to give way. */
export const SLOW_MS = 250;

export interface Slot {
  /** When the POST was sent (see sent()); slowness counts from there, not from a wait for the event loop. */
  sentAt: number;
  /** Aborted when this POST must give way to a waiting one. */
  readonly giveWay: AbortSignal;
}

type Waiter = (slot: Slot) => void;

/** How the lane's receiver did last time: decides its place among the waiting lanes. */
export type Standing = "answered" | "untried" | "slow";
const ORDER: Standing[] = ["answered", "untried", "slow"];

export class PostSlots {
  private running = new Map<Slot, AbortController>(); // in the order they started
  private waiting: Record<Standing, Waiter[]> = { answered: [], untried: [], slow: [] };
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private max = MAX_POSTS,
    private maxSlow = MAX_SLOW,
    private slowMs = SLOW_MS,
  ) {}

  /** A slot for one POST; waits when all are taken. */
  acquire(standing: Standing): Slot | Promise<Slot> {
    if (this.running.size < this.max) return this.start();
    return new Promise<Slot>((resolve) => {
      this.waiting[standing].push(resolve);
      this.makeRoom();
    });
  }

  /** The POST ended: its slot passes to the next waiter. */
  release(slot: Slot) {
    if (!this.running.delete(slot)) return;
    const next = this.next();
    if (next) next(this.start());
    if (!this.waitingCount() && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  /** The slot's POST is being sent now: from here on it may turn slow. */
  sent(slot: Slot) {
    slot.sentAt = Date.now();
    if (this.waitingCount() && !this.timer) this.recheckAt(slot.sentAt + this.slowMs);
  }

  /** Hands every waiter a slot at once (the dispatcher is stopping; they release it unused). */
  releaseWaiters() {
    for (let w = this.next(); w; w = this.next()) w(this.start());
  }

  get inFlight() {
    return this.running.size;
  }

  private next(): Waiter | undefined {
    for (const standing of ORDER) if (this.waiting[standing].length) return this.waiting[standing].shift();
  }

  private waitingCount() {
    return this.waiting.answered.length + this.waiting.untried.length + this.waiting.slow.length;
  }

  private start(): Slot {
    const ctl = new AbortController();
    const slot: Slot = { sentAt: Infinity, giveWay: ctl.signal };
    this.running.set(slot, ctl);
    return slot;
  }

  /** Makes slow POSTs beyond the kept share give way, one per waiter; else checks again when the next POST turns slow. */
  private makeRoom() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const waiting = this.waitingCount();
    if (!waiting) return;
    const now = Date.now();
    let slow = 0;
    let freeing = 0; // already told to give way, not yet released
    let nextSlowAt = Infinity;
    for (const [slot, ctl] of this.running) {
      if (ctl.signal.aborted) freeing++;
      else if (now - slot.sentAt < this.slowMs) nextSlowAt = Math.min(nextSlowAt, slot.sentAt + this.slowMs);
      else if (++slow > this.maxSlow && freeing < waiting) {
        ctl.abort();
        freeing++;
      }
    }
    if (freeing < waiting && nextSlowAt < Infinity) this.recheckAt(nextSlowAt);
  }

  private recheckAt(at: number) {
    this.timer = setTimeout(() => this.makeRoom(), Math.max(0, at - Date.now()) + 1);
    this.timer.unref?.();
  }
}
