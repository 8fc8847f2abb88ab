// A loop driven by due times kept in the database (the scheduler's
// next_run_at, requests' expires_at): one timer sleeps until the earliest due
// time (at most maxSleepMs, since the clock may jump), then a pass does what
// is due. poke() re-arms after something new was committed; concurrent ticks
// share one pass, and a poke during a pass runs it again. At start it passes
// once, so what came due while the server was down happens at once.
// nextDue() may be async (a query on a store that answers later): arming never
// blocks the caller, and when two arms overlap the one that asked last sets the timer.
import type { Logger } from "./log.ts";

export abstract class DueLoop {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  protected stopped = true;

  constructor(
    protected readonly clock: () => number,
    private readonly maxSleepMs: number,
    private readonly log: Logger,
    private readonly what: string,
  ) {}

  /** Does what is due at clock() (in batches, yielding between them). */
  protected abstract pass(): Promise<void>;
  /** The earliest due time in ms, or null when nothing is waiting. */
  protected abstract nextDue(): number | null | Promise<number | null>;
  // Counts arms: only the latest one's answer sets the timer.
  private arms = 0;

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    void this.tick();
  }

  async stop() {
    this.stopped = true;
    this.clearTimer();
    await this.running;
  }

  /** Something due was committed: re-arm for the (possibly new) earliest due time. */
  poke() {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.arm();
  }

  /** Does everything due now, then re-arms. */
  tick(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass();
      } while (this.again && !this.stopped);
    })()
      .catch((e) => this.log.error(`${this.what} failed; trying again later`, { error: e as Error }))
      .finally(() => {
        this.running = null;
        this.arm();
      });
    return this.running;
  }

  private clearTimer() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm() {
    if (this.stopped) return;
    const arm = ++this.arms;
    let due: number | null | Promise<number | null>;
    try {
      due = this.nextDue();
    } catch (e) {
      due = Promise.reject(e);
    }
    if (!(due instanceof Promise)) return this.setTimer(due);
    due.then(
      (at) => {
        // a later arm decides, or a pass began meanwhile (its end arms again)
        if (arm === this.arms && !this.running) this.setTimer(at);
      },
      (e) => {
        this.log.error(`${this.what}: reading the next due time failed; looking again later`, { error: e as Error });
        if (arm === this.arms && !this.running) this.setTimer(null);
      },
    );
  }

  private setTimer(at: number | null) {
    if (this.stopped) return;
    const nowMs = this.clock();
    const delay = Math.min(Math.max((at ?? nowMs + this.maxSleepMs) - nowMs, 0), this.maxSleepMs);
    this.clearTimer(); // always re-armed: the clock may have jumped since the last arm
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.tick();
    }, delay);
  }
}

/** Lets requests in between two batches of a pass. */
export const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));
