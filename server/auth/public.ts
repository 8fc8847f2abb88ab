// Signing in, for anyone: /api/auth/status, /api/auth/setup, /api/auth/login, /api/auth/logout.
// How fast they may be tried is limits.ts; accounts and sessions are service.ts.
import { Elysia } from "elysia";
import type { Ctx } from "../context.ts";
import { readCookie } from "../lib/cookies.ts";
import { unauthorized } from "../lib/errors.ts";
import { SetupLimits, SignInLimits } from "./limits.ts";
import { personFromRequest } from "./guard.ts";
import { Credentials } from "./model.ts";
import * as auth from "./service.ts";

export function authRoutes(ctx: Ctx) {
  const signInLimits = new SignInLimits();
  const setupLimits = new SetupLimits();
  const secure = ctx.config.publicUrl.startsWith("https:");
  const cookie = (token: string, maxAge: number) =>
    `${auth.SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${secure ? "; Secure" : ""}`;
  const signIn = (set: { headers: Record<string, unknown> }, userId: string) => {
    set.headers["set-cookie"] = cookie(auth.createSession(ctx.db, userId, ctx.now()), auth.SESSION_TTL_MS / 1000);
  };
  const addressOf = (request: Request, server: { requestIP(r: Request): { address: string } | null } | null) =>
    server?.requestIP(request)?.address ?? "unknown";

  return new Elysia()
    .get("/api/auth/status", ({ request }) => {
      const user = personFromRequest(ctx, request);
      return { setup_required: auth.userCount(ctx.db) === 0, user: user ? auth.publicUser(user) : null };
    })
    .post(
      "/api/auth/setup",
      async ({ body, set, request, server }) => {
        if (!auth.setupOpen(ctx.db)) throw auth.setupDone(); // before any hashing: setup spam after setup is cheap
        const user = await setupLimits.run(addressOf(request, server), () => auth.setupOwner(ctx.db, body.username, body.password));
        ctx.log.info("owner account created", { username: user.username });
        signIn(set, user.id);
        set.status = 201;
        return { user: auth.publicUser(user) };
      },
      { body: Credentials },
    )
    .post(
      "/api/auth/login",
      async ({ body, set, request, server }) => {
        const address = addressOf(request, server);
        const attempt = signInLimits.begin(body.username, address);
        const user = await auth.checkPassword(ctx.db, body.username, body.password);
        if (!user) {
          ctx.log.warn("failed sign-in", { username: body.username, ip: address });
          throw unauthorized("wrong username or password");
        }
        attempt.succeeded();
        signIn(set, user.id);
        return { user: auth.publicUser(user) };
      },
      { body: Credentials },
    )
    .post("/api/auth/logout", ({ request, set }) => {
      auth.deleteSession(ctx, readCookie(request.headers.get("cookie"), auth.SESSION_COOKIE));
      set.headers["set-cookie"] = cookie("", 0);
      set.status = 204;
    });
}
