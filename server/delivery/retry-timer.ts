// The one timer for webhook retries. Retry times live in the database
// (next_attempt_at), so this only needs to wake at the earliest one, and at
// least every SAFETY_SCAN_MS (which picks up a newly set webhook_url): retries
// queued before a restart resume after it.
import type { Db } from "../db/index.ts";
import type { Logger } from "../lib/log.ts";
import { isoMs } from "../lib/time.ts";
import { dueWebhookAgents } from "./outbox-queries.ts";

export const SAFETY_SCAN_MS = 10_000;

export class RetryTimer {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = Infinity;
  private stopped = true;

  constructor(
    private db: () => Db,
    private log: Logger,
    private wake: (agentId: string) => void,
  ) {}

  start() {
    this.stopped = false;
    void this.scan(); // resumes what a previous run left pending
  }

  stop() {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }

  /** Makes sure the timer fires by atMs. */
  at(atMs: number) {
    if (this.stopped || atMs >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = atMs;
    this.timer = setTimeout(() => void this.scan(), Math.max(0, atMs - Date.now()));
    this.timer.unref?.();
  }

  /** Wakes every agent whose next attempt is due; arms the timer for the next one. */
  private async scan() {
    this.timer = null;
    this.timerAt = Infinity;
    if (this.stopped) return;
    let next: string | null = null;
    try {
      const r = await dueWebhookAgents(this.db(), isoMs());
      if (this.stopped) return; // stopped while reading: the database may be closing
      for (const agentId of r.due) this.wake(agentId);
      next = r.next;
    } catch (e) {
      this.log.error("delivery scan failed", { error: e as Error });
    }
    this.at(Math.min(next ? Date.parse(next) : Infinity, Date.now() + SAFETY_SCAN_MS));
  }
}
