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
//
// The counts live in the database (limit-store.ts): a restart keeps them, and
// every process on the database shares them. Checking and counting an attempt
// is one transaction, committed before the password is hashed.
import type { Ctx } from "../context.ts";
import { conflict, tooManyRequests } from "../lib/errors.ts";
import { LimitCounters } from "./limit-store.ts";
import { addressKey } from "./rate-limit.ts";

const PER_USER_AND_ADDRESS = 10;
const PER_USER = 10; // then the username is under attack
const FRESH_ADDRESSES = 10; // new addresses that get a guess while it is
const PER_ADDRESS = 30;
const SETUP_PER_ADDRESS = 10;

/** One sign-in attempt, already counted as a failure; a right password takes it back. */
export interface SignInAttempt {
  succeeded(): Promise<void>;
}

export class SignInLimits {
  constructor(private readonly ctx: Ctx) {}

  /**
   * Counts an attempt before the (slow) password hash, so attempts arriving
   * together see each other; 429 when the username or address is over its limit.
   */
  async begin(username: string, address: string): Promise<SignInAttempt> {
    const ip = addressKey(address);
    const user = username.trim().toLowerCase();
    const key = { pair: `pair:${user}\n${ip}`, user: `user:${user}`, fresh: `fresh:${user}`, ip: `ip:${ip}` };
    const { wait, fresh } = await this.ctx.writer.now(async (uow) => {
      const c = new LimitCounters(uow.db, this.ctx.now());
      await c.prune(); // first: it takes the lock (limit-store.ts)
      let wait = Math.max(await c.retryAfter(key.pair, PER_USER_AND_ADDRESS), await c.retryAfter(key.ip, PER_ADDRESS));
      let fresh = false;
      const attacked = await c.retryAfter(key.user, PER_USER);
      if (!wait && attacked > 0 && !(await c.isKnown(user, ip))) {
        if ((await c.count(key.pair)) > 0) wait = attacked;
        else wait = await c.retryAfter(key.fresh, FRESH_ADDRESSES);
        fresh = wait === 0;
      }
      // Refused: nothing is counted (the commit is empty but for the pruning).
      if (wait > 0) return { wait, fresh };
      await c.hit(key.user);
      await c.hit(key.pair);
      await c.hit(key.ip);
      if (fresh) await c.hit(key.fresh);
      return { wait, fresh };
    });
    if (wait > 0) throw tooManyRequests("too many failed sign-in attempts; try again later", wait);
    return {
      succeeded: () =>
        this.ctx.writer.now(async (uow) => {
          const c = new LimitCounters(uow.db, this.ctx.now());
          await c.release(key.user);
          await c.release(key.ip);
          if (fresh) await c.release(key.fresh);
          await c.reset(key.pair);
          await c.remember(user, ip);
        }),
    };
  }
}

export class SetupLimits {
  private busy = false; // in this process; setupOwner's transaction makes one owner across processes

  constructor(private readonly ctx: Ctx) {}

  /** Runs one setup attempt: 429 over the address's limit, 409 while another is running. */
  async run<T>(address: string, attempt: () => Promise<T>): Promise<T> {
    const key = `setup:${addressKey(address)}`;
    const wait = await this.ctx.writer.now(async (uow) => {
      const c = new LimitCounters(uow.db, this.ctx.now());
      await c.prune();
      const wait = await c.retryAfter(key, SETUP_PER_ADDRESS);
      if (!wait) await c.hit(key);
      return wait;
    });
    if (wait > 0) throw tooManyRequests("too many setup attempts; try again later", wait);
    if (this.busy) throw conflict("setup is in progress");
    this.busy = true;
    try {
      return await attempt();
    } finally {
      this.busy = false;
    }
  }
}
