// Routes: /api/auth/status, setup, login, logout.
import { Elysia, t } from "elysia";
import type { Ctx } from "../context.ts";
import { readCookie } from "../lib/cookies.ts";
import { conflict, tooManyRequests, unauthorized } from "../lib/errors.ts";
import { addressKey, KnownAddresses, RateLimiter } from "./rate-limit.ts";
import { personFromRequest } from "./guard.ts";
import * as auth from "./service.ts";

const Credentials = t.Object({ username: t.String({ maxLength: 64 }), password: t.String({ maxLength: 1024 }) });

export function authRoutes(ctx: Ctx) {
  // Failed logins, in 15-minute windows: 10 per username and address, 30 per
  // address (an IPv6 address counts by its /64). After 10 failures for a
  // username from anywhere it is "under attack": then addresses it signed in
  // from before may still try, as may at most 10 new addresses (one guess
  // each). Guessing stays slow however many addresses an attacker has, and
  // failing on purpose cannot lock the owner out of the usual address (nor,
  // from fewer than 20 addresses, out of a new one).
  const WINDOW = 15 * 60_000;
  const byUserIp = new RateLimiter(10, WINDOW);
  const byUser = new RateLimiter(10, WINDOW);
  const freshGuesses = new RateLimiter(10, WINDOW);
  const byIp = new RateLimiter(30, WINDOW);
  const known = new KnownAddresses();
  // Setup while it is open: 10 attempts per address in 15 minutes, and one at
  // a time (each hashes a password; the first that succeeds closes setup).
  const setupByIp = new RateLimiter(10, WINDOW);
  let settingUp = false;
  const secure = ctx.config.publicUrl.startsWith("https:");
  const cookie = (token: string, maxAge: number) =>
    `${auth.SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${secure ? "; Secure" : ""}`;
  const signIn = (set: { headers: Record<string, unknown> }, userId: string) => {
    set.headers["set-cookie"] = cookie(auth.createSession(ctx.db, userId, ctx.now()), auth.SESSION_TTL_MS / 1000);
  };

  return new Elysia({ prefix: "/api/auth" })
    .get("/status", ({ request }) => {
      const user = personFromRequest(ctx, request);
      return { setup_required: auth.userCount(ctx.db) === 0, user: user ? auth.publicUser(user) : null };
    })
    .post(
      "/setup",
      async ({ body, set, request, server }) => {
        if (!auth.setupOpen(ctx.db)) throw auth.setupDone(); // before any hashing: setup spam after setup is cheap
        const ip = addressKey(server?.requestIP(request)?.address ?? "unknown");
        const wait = setupByIp.retryAfter(ip);
        if (wait > 0) throw tooManyRequests("too many setup attempts; try again later", wait);
        setupByIp.hit(ip);
        if (settingUp) throw conflict("setup is in progress");
        settingUp = true;
        let user: auth.User;
        try {
          user = await auth.setupOwner(ctx.db, body.username, body.password);
        } finally {
          settingUp = false;
        }
        ctx.log.info("owner account created", { username: user.username });
        signIn(set, user.id);
        set.status = 201;
        return { user: auth.publicUser(user) };
      },
      { body: Credentials },
    )
    .post(
      "/login",
      async ({ body, set, request, server }) => {
        const address = server?.requestIP(request)?.address ?? "unknown";
        const ip = addressKey(address);
        const userKey = body.username.trim().toLowerCase();
        const pairKey = `${userKey}\n${ip}`;
        let wait = Math.max(byUserIp.retryAfter(pairKey), byIp.retryAfter(ip));
        let fresh = false;
        const attacked = byUser.retryAfter(userKey);
        if (!wait && attacked > 0 && !known.has(userKey, ip)) {
          if (byUserIp.count(pairKey) > 0) wait = attacked;
          else wait = freshGuesses.retryAfter(userKey);
          fresh = wait === 0;
        }
        if (wait > 0) throw tooManyRequests("too many failed sign-in attempts; try again later", wait);
        // Count the attempt as a failure before the (slow) hash, so attempts
        // arriving together see each other; a right password takes it back.
        byUser.hit(userKey);
        byUserIp.hit(pairKey);
        byIp.hit(ip);
        if (fresh) freshGuesses.hit(userKey);
        const user = await auth.checkPassword(ctx.db, body.username, body.password);
        if (!user) {
          ctx.log.warn("failed sign-in", { username: body.username, ip: address });
          throw unauthorized("wrong username or password");
        }
        byUser.release(userKey);
        byIp.release(ip);
        if (fresh) freshGuesses.release(userKey);
        byUserIp.reset(pairKey);
        known.add(userKey, ip);
        signIn(set, user.id);
        return { user: auth.publicUser(user) };
      },
      { body: Credentials },
    )
    .post("/logout", ({ request, set }) => {
      auth.deleteSession(ctx, readCookie(request.headers.get("cookie"), auth.SESSION_COOKIE));
      set.headers["set-cookie"] = cookie("", 0);
      set.status = 204;
    });
}
