// The people's side: every /api route outside /api/agent/ and /api/auth/ needs
// a signed-in person (a session cookie), and no cross-site page may act for one.
import { Elysia } from "elysia";
import type { Ctx } from "../context.ts";
import { readCookie } from "../lib/cookies.ts";
import { forbidden, unauthorized } from "../lib/errors.ts";
import { models, PEOPLE } from "../lib/schemas.ts";
import { SESSION_COOKIE, userForSession, type User } from "./service.ts";

export function personFromRequest(ctx: Ctx, request: Request): Promise<User | null> {
  return userForSession(ctx.db, readCookie(request.headers.get("cookie"), SESSION_COOKIE), ctx.now());
}

/** Derives `user` for the routes of the instance that uses it; 401 without a session. */
export const personGuard = (ctx: Ctx) =>
  new Elysia().derive({ as: "scoped" }, async ({ request }) => {
    const user = await personFromRequest(ctx, request);
    if (!user) throw unauthorized("sign in first");
    return { user };
  });

/** A feature's people routes start here: a session required, and documented as such. */
export const forPeople = (ctx: Ctx) => new Elysia({ detail: PEOPLE }).use(models).use(personGuard(ctx));

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

// The public URL, parsed once (it is asked on every state-changing people request).
let parsedPublic: { text: string; url: URL } | null = null;
const publicOrigin = (text: string) => (parsedPublic?.text === text ? parsedPublic.url : (parsedPublic = { text, url: new URL(text) }).url);

/**
 * Whether a request comes from this server's own pages: its Origin must be
 * this server in scheme, host and port (the public URL's origin, or the Host
 * the request was sent to over the scheme it arrived by), and Sec-Fetch-Site
 * must not say cross-site. Requests without Origin (curl, scripts) pass.
 */
export function isSameOrigin(ctx: Ctx, request: Request): boolean {
  if (request.headers.get("sec-fetch-site") === "cross-site") return false;
  const origin = request.headers.get("origin");
  if (!origin) return true;
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return false; // "null" (sandboxed frames, file://, some redirects)
  }
  const pub = publicOrigin(ctx.config.publicUrl);
  if (o.origin === pub.origin) return true;
  // The public URL's own name over another scheme (http:// next to https://) is another origin.
  if (o.hostname === pub.hostname && o.protocol !== pub.protocol) return false;
  // Reached directly (not by the public URL): the Origin is the Host over the
  // scheme this request came by; this server's own pages never send another.
  const own = new URL(request.url);
  return o.protocol === own.protocol && [request.headers.get("host"), own.host].includes(o.host);
}

/** Refuses (403) a state-changing people request sent by another site's page. */
export function checkSameOrigin(ctx: Ctx, request: Request) {
  if (!SAFE_METHODS.has(request.method) && !isSameOrigin(ctx, request)) throw forbidden("cross-site request refused");
}
