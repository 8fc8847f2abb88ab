// A fixed-window counter in memory, for limits a restart may reset (webhook
// triggers). Sign-in and setup count in the database instead (limit-store.ts).
export class RateLimiter {
  private hits = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Seconds until the key may try again, or 0 when it is under the limit. */
  retryAfter(key: string, now = Date.now()): number {
    const h = this.hits.get(key);
    if (!h || h.resetAt <= now) return 0;
    return h.count >= this.limit ? (h.resetAt - now) / 1000 : 0;
  }

  hit(key: string, now = Date.now()) {
    const h = this.hits.get(key);
    if (!h || h.resetAt <= now) {
      if (this.hits.size > 10_000) this.sweep(now);
      this.hits.set(key, { count: 1, resetAt: now + this.windowMs });
    } else h.count++;
  }

  /** Failures counted for the key in its current window. */
  count(key: string, now = Date.now()): number {
    const h = this.hits.get(key);
    return !h || h.resetAt <= now ? 0 : h.count;
  }

  /** Takes back one hit (an attempt counted up front that turned out fine). */
  release(key: string, now = Date.now()) {
    const h = this.hits.get(key);
    if (h && h.resetAt > now && --h.count <= 0) this.hits.delete(key);
  }

  reset(key: string) {
    this.hits.delete(key);
  }

  private sweep(now: number) {
    for (const [k, h] of this.hits) if (h.resetAt <= now) this.hits.delete(k);
  }
}

/** The key an address is limited by: IPv4 as is, IPv6 by its /64 (one host usually holds the whole /64). */
export function addressKey(address: string): string {
  const a = address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) return mapped[1]!;
  if (!a.includes(":")) return a;
  const [head, tail] = a.split("::") as [string, string | undefined];
  const h = head ? head.split(":") : [];
  const t = tail === undefined ? [] : tail ? tail.split(":") : [];
  const words = [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill("0"), ...t];
  return words.slice(0, 4).map((w) => w.replace(/^0+(?=.)/, "")).join(":") + "::/64";
}
