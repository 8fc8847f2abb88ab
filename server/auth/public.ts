// Signing in, for anyone: /api/auth/status, /api/auth/setup, /api/auth/login, /api/auth/logout.
// How fast they may be tried is limits.ts; accounts and sessions are service.ts.
import { Elysia, t } from "elysia";
import type { Ctx } from "../context.ts";
import { readCookie } from "../lib/cookies.ts";
import { unauthorized } from "../lib/errors.ts";
import { SetupLimits, SignInLimits } from "./limits.ts";
import { personFromRequest } from "./guard.ts";
import { doc, errors, models } from "../lib/schemas.ts";
import { AuthStatus, Credentials, SignedIn } from "./model.ts";
import * as auth from "./service.ts";

export function authRoutes(ctx: Ctx) {
  const signInLimits = new SignInLimits(ctx);
  const setupLimits = new SetupLimits(ctx);
  const secure = ctx.config.publicUrl.startsWith("https:");
  const cookie = (token: string, maxAge: number) =>
    `${auth.SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${secure ? "; Secure" : ""}`;
  const signIn = async (set: { headers: Record<string, unknown> }, userId: string) => {
    const token = await ctx.writer.now(async (uow) => auth.createSession(uow.db, userId, ctx.now()));
    set.headers["set-cookie"] = cookie(token, auth.SESSION_TTL_MS / 1000);
  };
  const addressOf = (request: Request, server: { requestIP(r: Request): { address: string } | null } | null) =>
    server?.requestIP(request)?.address ?? "unknown";

  // Public (no session needed), and listed with the people's API.
  return new Elysia({ detail: { tags: ["people"] } })
    .use(models)
    .get(
      "/api/auth/status",
      async ({ request }) => {
        const user = await personFromRequest(ctx, request);
        return { setup_required: (await auth.userCount(ctx.db)) === 0, user: user ? auth.publicUser(user) : null };
      },
      { response: { 200: AuthStatus }, ...doc("Whether setup is needed, and who is signed in") },
    )
    .post(
      "/api/auth/setup",
      async ({ body, set, request, server, status }) => {
        if (!(await auth.setupOpen(ctx.db))) throw auth.setupDone(); // before any hashing: setup spam after setup is cheap
        const user = await setupLimits.run(addressOf(request, server), () => auth.setupOwner(ctx, body.username, body.password));
        ctx.log.info("owner account created", { username: user.username });
        await signIn(set, user.id);
        return status(201, { user: auth.publicUser(user) });
      },
      {
        body: Credentials,
        response: { 201: SignedIn, ...errors(400, 403, 409, 413, 429) },
        ...doc("Create the owner on a fresh server, signed in", "409 once a person exists (or while another setup runs)."),
      },
    )
    .post(
      "/api/auth/login",
      async ({ body, set, request, server }) => {
        const address = addressOf(request, server);
        const attempt = await signInLimits.begin(body.username, address);
        const user = await auth.checkPassword(ctx.db, body.username, body.password);
        if (!user) {
          ctx.log.warn("failed sign-in", { username: body.username, ip: address });
          throw unauthorized("wrong username or password");
        }
        await attempt.succeeded();
        await signIn(set, user.id);
        return { user: auth.publicUser(user) };
      },
      {
        body: Credentials,
        response: { 200: SignedIn, ...errors(400, 401, 403, 413, 429) },
        ...doc("Sign in: sets the nod_session cookie", "429 with Retry-After after too many failures for the username or address."),
      },
    )
    .post(
      "/api/auth/logout",
      async ({ request, set }) => {
        await auth.deleteSession(ctx, readCookie(request.headers.get("cookie"), auth.SESSION_COOKIE));
        set.headers["set-cookie"] = cookie("", 0);
        set.status = 204;
      },
      { response: { 204: t.Void({ description: "Signed out; the session's inbox sockets close" }), ...errors(403) }, ...doc("Sign out") },
    );
}
