// The rate limit on a task's webhook: anyone who knows the URL may call it,
// and each call makes a run and an event for the agent, so calls beyond
// TRIGGER_RATE are refused (429 with Retry-After) before anything is written.
import type { Ctx } from "../context.ts";
import { tooManyRequests } from "../lib/errors.ts";
import { RateLimiter } from "../auth/rate-limit.ts";

export const TRIGGER_RATE = { limit: 60, windowMs: 60_000 };
// One limiter per context (per running server), and it goes with it.
const limiters = new WeakMap<Ctx, RateLimiter>();

/** Counts one call to this trigger, or throws 429 when it has had TRIGGER_RATE.limit in the window. */
export function countTriggerCall(ctx: Ctx, triggerId: string, nowMs: number) {
  let limiter = limiters.get(ctx);
  if (!limiter) limiters.set(ctx, (limiter = new RateLimiter(TRIGGER_RATE.limit, TRIGGER_RATE.windowMs)));
  const wait = limiter.retryAfter(triggerId, nowMs);
  if (wait > 0) throw tooManyRequests(`too many calls to this trigger (at most ${TRIGGER_RATE.limit} a minute)`, wait);
  limiter.hit(triggerId, nowMs);
}
