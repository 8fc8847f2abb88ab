// Cross-cutting HTTP behaviour: the error format, body-size limits, the
// people's cross-site check and the per-request debug log.
import { Elysia, type ValidationError } from "elysia";
import type { Ctx } from "./context.ts";
import { HttpError, tooLarge } from "./lib/errors.ts";
import { describeValueError } from "./lib/validate.ts";
import { checkJsonDepth, checkNoNul } from "./lib/json-depth.ts";
import { checkSameOrigin } from "./auth/guard.ts";
import { isForeignKeyViolation } from "./db/errors.ts";

export const MiB = 1024 * 1024;

/** Largest request body per route, by path; the default covers every people route. */
export function bodyLimitFor(path: string): number {
  if (path === "/api/agent/events") return 8 * MiB; // a 5 MB image, base64-encoded
  if (path.startsWith("/webhook/")) return 1 * MiB;
  if (path.startsWith("/api/agent/tasks/runs/")) return 256 * 1024; // 64 KiB summaries, escaped
  return 256 * 1024;
}
// The largest WebSocket frame. HTTP bodies are held to the per-route limits
// above, all smaller, by nod itself (413 {"detail"}, by Content-Length before
// anything is read, or by counting a chunked body up to the limit).
export const MAX_BODY = 16 * MiB;
// Bun's own limit would answer a bigger body with an empty 413 before nod sees
// it, so it is set out of reach. Bun does not buffer bodies nobody reads, and
// nod reads at most a route's limit: memory stays bounded.
export const BUN_MAX_BODY = Number.MAX_SAFE_INTEGER;

const pathOf = (request: Request) => {
  try {
    return new URL(request.url).pathname;
  } catch {
    return undefined;
  }
};

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

export function httpBasics(ctx: Ctx) {
  // For the debug line: what was asked and when, noted while the request is live
  // (after the response Bun has released it, and reading request.url throws).
  const started = new WeakMap<Request, { t0: number; method: string; path?: string; status?: number }>();
  const note = (request: Request) => {
    if (!ctx.log.enabled("debug") || started.has(request)) return;
    started.set(request, { t0: performance.now(), method: request.method, path: pathOf(request) });
  };
  return new Elysia({ name: "nod-http" })
    // No onRequest hook here: with one, Elysia stops handing the /app HTML
    // bundle to Bun's static routes. Sizes are checked before parsing instead.
    .onParse({ as: "global" }, async ({ request }) => {
      const limit = Math.min(bodyLimitFor(new URL(request.url).pathname), MAX_BODY);
      const tooBig = () => tooLarge(`request body too large (limit ${Math.round(limit / 1024)} KiB)`);
      const declared = request.headers.get("content-length");
      if (declared !== null) {
        if (Number(declared) > limit) throw tooBig();
        return;
      }
      // No Content-Length (a chunked body): count a copy of the stream up to the
      // limit before the route's parser reads the body.
      if (!request.body) return;
      const reader = request.clone().body!.getReader();
      let size = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > limit) {
          void reader.cancel().catch(() => {});
          throw tooBig();
        }
      }
    })
    .onTransform({ as: "global" }, ({ request, path, body, params, query }) => {
      note(request);
      // Parsed, not yet validated nor stored: refuse JSON nested too deeply, and NUL characters, first.
      checkJsonDepth(body);
      checkNoNul(body);
      for (const [name, value] of Object.entries({ ...params, ...query })) checkNoNul(value, name);
      if (path.startsWith("/api/") && !path.startsWith("/api/agent/")) checkSameOrigin(ctx, request);
    })
    .onError({ as: "global" }, ({ code, error, request }) => {
      note(request); // a 404 never reached onTransform
      const res = errorResponse(code, error, request);
      const seen = started.get(request);
      if (seen) seen.status = res.status;
      return res;
    })
    .onAfterResponse({ as: "global" }, ({ request, set }) => {
      // Logging is never worth a crash: this hook runs outside any request's error handling.
      try {
        const seen = started.get(request);
        if (!seen) return;
        ctx.log.debug("request", {
          method: seen.method,
          path: seen.path,
          status: seen.status ?? set.status ?? 200,
          ms: (performance.now() - seen.t0).toFixed(1),
        });
      } catch {}
    });

  function errorResponse(code: string | number, error: unknown, request: Request): Response {
      // An HttpError thrown while parsing (the body-size check) arrives wrapped in Elysia's ParseError.
      const cause = code === "PARSE" ? (error as Error).cause : undefined;
      if (cause instanceof HttpError) error = cause;
      if (error instanceof HttpError) return json(error.status, { detail: error.detail }, error.headers);
      switch (code) {
        case "VALIDATION":
          // An answer that does not fit its route's response schema is nod's bug, not the client's.
          if ((error as ValidationError).type === "response") break;
          return json(400, { detail: describeValueError((error as ValidationError).valueError, (error as ValidationError).value) });
        case "PARSE":
          return json(400, { detail: "body: invalid JSON" });
        case "NOT_FOUND":
          return json(404, { detail: "not found" });
        case "INVALID_COOKIE_SIGNATURE":
        case "INVALID_FILE_TYPE":
          return json(400, { detail: String((error as Error).message) });
      }
      // Two requests at once: the row this one writes refers to one another request deleted meanwhile.
      if (isForeignKeyViolation(error)) return json(409, { detail: "conflict: what this refers to was deleted meanwhile" });
      const status = (error as { status?: number }).status;
      if (status === 413) return json(413, { detail: "request body too large" });
      ctx.log.error("unhandled error", { method: request.method, path: pathOf(request), error: error as Error });
      return json(500, { detail: "internal error" });
    }
}
