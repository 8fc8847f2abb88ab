// When a failed webhook attempt is tried again, and when nod stops trying.
//
// The documented three attempts: at once, after base (2 s) and after 4·base
// (8 s). After those, with a delivery window (--webhook-retry-window, 24 h by
// default), nod keeps trying with growing gaps (×4 each time, at most an hour
// apart) until the event is as old as the window; with a window of 0 the
// three attempts are all. An attempt whose failure is final (a destination
// refused by --webhook-block-private) is not tried again. Whatever nod gives
// up on stays in the outbox as undelivered and goes over the agent's socket
// when it next connects.

export const DOCUMENTED_ATTEMPTS = 3;
/** The longest gap between two attempts inside the delivery window. */
export const MAX_GAP_MS = 3_600_000;

export interface RetryPolicy {
  baseMs: number;
  windowMs: number;
}

/**
 * After `attempts` failed attempts of an event created at `createdAtMs`,
 * the time of the next one, or null when nod gives up.
 */
export function nextAttemptAt(p: RetryPolicy, attempts: number, createdAtMs: number, nowMs: number, final = false): number | null {
  if (final) return null;
  const gap = Math.min(p.baseMs * 4 ** (attempts - 1), MAX_GAP_MS);
  if (attempts < DOCUMENTED_ATTEMPTS) return nowMs + gap;
  // Inside the window: the next gap, and a last attempt as the window closes.
  const deadline = createdAtMs + p.windowMs;
  return nowMs < deadline ? Math.min(nowMs + gap, deadline) : null;
}
