// OpenAPI for both sides, generated from the routes' own schemas:
// GET /docs (an API reference page) and GET /docs/json (the OpenAPI 3.1 document).
// Used as `.use(openapiDocs)` on the whole app: a functional plugin receives
// the app it is mounted on, so every route (those added later too) is listed.
import type { AnyElysia } from "elysia";
import { toOpenAPISchema } from "@elysiajs/openapi";
import { VERSION } from "../version.ts";
import * as events from "../events/model.ts";

const DESCRIPTION = `nod is a self-hosted inbox between AI agents and people.

**Agents** (tag \`agent\`) authenticate every request with two headers, \`X-Nod-Agent-Id\` and
\`X-Nod-Secret\`; these routes follow the public Nod agent API, so a client written for Nod works
against nod by pointing \`NOD_API_URL\` at this server. Routes marked *nod's addition* are not in Nod.

**People** (tag \`people\`) sign in with \`POST /api/auth/login\` (or \`/api/auth/setup\` on a fresh
server) and send the \`nod_session\` cookie. A state-changing request from another site's page is
refused (403).

Errors are \`{"detail": "…"}\` with 400, 401, 403, 404, 409, 413 or 429. Lists are JSON arrays;
paged lists take \`?limit=\` (1–200, default 50) and \`?before=ID\`. Times are ISO 8601 UTC.

Real-time: agents connect to \`/ws/agent\`, the inbox to \`/ws/app\` (WebSocket; not listed here).`;

type Doc = ReturnType<typeof toOpenAPISchema> & { paths: Record<string, Record<string, any>> };

const REST_EVENTS = [events.MessageEvent, events.DecisionEvent, events.AlertEvent, events.ProcessingStartEvent, events.ProcessingStopEvent, events.TaskProposalEvent];

/** TypeBox schemas are JSON Schema already; this drops TypeBox's symbol keys. */
const plain = (schema: unknown) => JSON.parse(JSON.stringify(schema));

function tagFor(path: string) {
  if (path.startsWith("/api/agent/") || path.startsWith("/webhook/")) return "agent";
  if (path.startsWith("/api/")) return "people";
  return "server";
}

const toOpenApiPath = (path: string) => path.replace(/:(\w+)/g, "{$1}").replace(/(.)\/$/, "$1");

/** Drops keys JSON Schema does not know (TypeBox's custom `error` messages). */
function clean(v: any): any {
  if (Array.isArray(v)) return v.map(clean);
  if (!v || typeof v !== "object") return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (k !== "error") out[k] = clean(x);
  return out;
}

export function buildSpec(app: AnyElysia) {
  const generated = clean(
    toOpenAPISchema(app, { paths: [/^\/docs/, "/metrics", "/", /^\/ws\//], staticFile: true }, undefined, undefined, "3.1.0"),
  ) as Doc;
  // The generator leaves a body's content empty when a global onParse hook is
  // present (ours checks sizes); every body nod reads is JSON, so fill it in.
  const bodies = new Map<string, unknown>();
  const routes = (app as unknown as { getGlobalRoutes(): { method: string; path: string; hooks?: { body?: unknown } }[] }).getGlobalRoutes();
  for (const r of routes) if (r.hooks?.body) bodies.set(`${r.method.toLowerCase()} ${toOpenApiPath(r.path)}`, r.hooks.body);
  const paths: Doc["paths"] = {};
  for (const [path, ops] of Object.entries(generated.paths ?? {})) {
    const openapiPath = toOpenApiPath(path);
    for (const [method, op] of Object.entries(ops)) {
      if (typeof op !== "object" || !op) continue;
      const body = bodies.get(`${method} ${openapiPath}`);
      if (op.requestBody && body && !Object.keys(op.requestBody.content ?? {}).length)
        op.requestBody = { required: true, content: { "application/json": { schema: clean(plain(body)) } } };
      const tag = tagFor(path);
      op.tags = op.tags?.length ? op.tags : [tag];
      if (tag === "agent" && path.startsWith("/api/agent/")) op.security = [{ agentId: [], agentSecret: [] }];
      else if (tag === "people" && !path.startsWith("/api/auth/")) op.security = [{ session: [] }];
      op.responses ??= {};
      if (!Object.keys(op.responses).length) op.responses["200"] = { description: "OK" };
      for (const [code, text] of [["400", "Bad input (the detail names the field)"], ["401", "Not authenticated"], ["404", "Not found"]] as const)
        if (op.security) op.responses[code] ??= { description: text, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };
      (paths[openapiPath] ??= {})[method] = op;
    }
  }
  // The one event endpoint takes a different body per `type`.
  const post = paths["/api/agent/events"]?.post;
  if (post) {
    post.summary = "Send an event: message, decision, alert, processing_start, processing_stop or task_proposal";
    post.requestBody = {
      required: true,
      content: { "application/json": { schema: { oneOf: REST_EVENTS.map((e) => clean(plain(e))), discriminator: { propertyName: "type" } } } },
    };
  }
  const poll = paths["/api/agent/decisions/{decision_id}"]?.get;
  if (poll) {
    poll.summary = "A request's state; with ?wait=SECONDS, waits (up to 60 s) for its answer";
    poll.description =
      "nod's addition (not in the Nod API). Answers the request as its agent sees it: decision_id, kind, status, note, always_allow, always_allow_pattern… With `wait`, a pending request is held until a person answers or the time is up; then the current state is returned either way.";
  }
  return {
    ...generated,
    openapi: "3.1.0",
    info: { title: "nod", version: VERSION, description: DESCRIPTION },
    tags: [
      { name: "agent", description: "The Nod agent API (X-Nod-Agent-Id + X-Nod-Secret)" },
      { name: "people", description: "nod's people API (session cookie)" },
      { name: "server", description: "Health, media and inbound triggers" },
    ],
    paths,
    components: {
      ...generated.components,
      schemas: {
        ...(generated.components?.schemas ?? {}),
        Error: { type: "object", required: ["detail"], properties: { detail: { type: "string" } } },
      },
      securitySchemes: {
        agentId: { type: "apiKey", in: "header", name: "X-Nod-Agent-Id" },
        agentSecret: { type: "apiKey", in: "header", name: "X-Nod-Secret" },
        session: { type: "apiKey", in: "cookie", name: "nod_session" },
      },
    },
  };
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <title>nod API</title>
</head>
<body>
  <noscript>The API reference needs JavaScript; the OpenAPI document itself is at <a href="/docs/json">/docs/json</a>.</noscript>
  <script id="api-reference" data-url="/docs/json"></script>
  <script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference@1/dist/browser/standalone.min.js"></script>
</body>
</html>
`;

/** Functional plugin: `.use(openapiDocs)` as the last plugin of the app. */
export function openapiDocs(app: AnyElysia) {
  let spec: ReturnType<typeof buildSpec> | null = null;
  let routeCount = -1;
  return app
    .get("/docs", () => new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } }), { detail: { hide: true } })
    .get(
      "/docs/json",
      () => {
        const n = app.routes.length;
        if (!spec || n !== routeCount) [spec, routeCount] = [buildSpec(app), n];
        return spec;
      },
      { detail: { hide: true } },
    );
}
