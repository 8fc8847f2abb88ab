// How fast sign-in and setup may be tried, per username and client address.
//
// Failed sign-ins, in 15-minute windows: 10 per username and address, 30 per
// address (an IPv6 address counts by its /64). After 10 failures for a
// username from anywhere it is "under attack": then addresses it signed in
// from before may still try, as may at most 10 new addresses (one guess
// each). Guessing stays slow however many addresses an attacker has, and
// failing on purpose cannot lock the owner out of the usual address (nor,
// from fewer than 20 addresses, out of a new one).
//
// Setup while it is open: 10 attempts per address in 15 minutes, and one at
// a time (each hashes a password; the first that succeeds closes setup).
import { conflict, tooManyRequests } from "../lib/errors.ts";
import { addressKey, KnownAddresses, RateLimiter } from "./rate-limit.ts";

const WINDOW = 15 * 60_000;

/** One sign-in attempt, already counted as a failure; a right password takes it back. */
export interface SignInAttempt {
  succeeded(): void;
}

export class SignInLimits {
  private byUserIp = new RateLimiter(10, WINDOW);
  private byUser = new RateLimiter(10, WINDOW);
  private freshGuesses = new RateLimiter(10, WINDOW);
  private byIp = new RateLimiter(30, WINDOW);
  private known = new KnownAddresses();

  /**
   * Counts an attempt before the (slow) password hash, so attempts arriving
   * together see each other; 429 when the username or address is over its limit.
   */
  begin(username: string, address: string): SignInAttempt {
    const ip = addressKey(address);
    const userKey = username.trim().toLowerCase();
    const pairKey = `${userKey}\n${ip}`;
    let wait = Math.max(this.byUserIp.retryAfter(pairKey), this.byIp.retryAfter(ip));
    let fresh = false;
    const attacked = this.byUser.retryAfter(userKey);
    if (!wait && attacked > 0 && !this.known.has(userKey, ip)) {
      if (this.byUserIp.count(pairKey) > 0) wait = attacked;
      else wait = this.freshGuesses.retryAfter(userKey);
      fresh = wait === 0;
    }
    if (wait > 0) throw tooManyRequests("too many failed sign-in attempts; try again later", wait);
    this.byUser.hit(userKey);
    this.byUserIp.hit(pairKey);
    this.byIp.hit(ip);
    if (fresh) this.freshGuesses.hit(userKey);
    return {
      succeeded: () => {
        this.byUser.release(userKey);
        this.byIp.release(ip);
        if (fresh) this.freshGuesses.release(userKey);
        this.byUserIp.reset(pairKey);
        this.known.add(userKey, ip);
      },
    };
  }
}

export class SetupLimits {
  private byIp = new RateLimiter(10, WINDOW);
  private busy = false;

  /** Runs one setup attempt: 429 over the address's limit, 409 while another is running. */
  async run<T>(address: string, attempt: () => Promise<T>): Promise<T> {
    const ip = addressKey(address);
    const wait = this.byIp.retryAfter(ip);
    if (wait > 0) throw tooManyRequests("too many setup attempts; try again later", wait);
    this.byIp.hit(ip);
    if (this.busy) throw conflict("setup is in progress");
    this.busy = true;
    try {
      return await attempt();
    } finally {
      this.busy = false;
    }
  }
}
