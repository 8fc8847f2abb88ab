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

/** Routes whose success is not 200 (set in their handlers, so the generator cannot see it). */
const SUCCESS: Record<string, { code: string; description: string }> = {
  "post /api/auth/setup": { code: "201", description: "Created: the owner, signed in" },
  "post /api/auth/logout": { code: "204", description: "Signed out" },
  "post /api/agents": { code: "201", description: "Created (the secret is shown only now)" },
  "delete /api/agents/{id}": { code: "204", description: "Deleted" },
  "post /api/agents/{id}/messages": { code: "201", description: "Sent" },
  "post /api/conversations/{id}/read": { code: "204", description: "Marked read" },
  "post /api/agents/{id}/tasks": { code: "201", description: "Created" },
  "delete /api/tasks/{id}": { code: "204", description: "Deleted" },
  "post /api/tasks/{id}/run": { code: "201", description: "A due run was created" },
  "post /webhook/{trigger_id}": { code: "202", description: "Accepted: a run was created" },
  "post /api/push/subscriptions": { code: "201", description: "Created (200 with the device when its endpoint was already yours)" },
  "delete /api/push/subscriptions/{id}": { code: "204", description: "Removed" },
  "post /api/push/test": { code: "202", description: "Queued: a test notification to each of your devices" },
};

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
      const success = SUCCESS[`${method} ${openapiPath}`];
      if (success) {
        delete op.responses["200"];
        op.responses[success.code] = { description: success.description };
      }
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

// A self-contained reference page (no CDN: self-hosted servers are often
// offline): it reads /docs/json and lists every operation by tag, with its
// parameters and request body schema. Built with textContent only.
const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <title>nod API</title>
  <style>
    :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
    body { max-width: 60rem; margin: 0 auto; padding: 1rem; line-height: 1.45; }
    details { border: 1px solid #8884; border-radius: 6px; margin: .4rem 0; padding: .4rem .6rem; }
    summary { cursor: pointer; overflow-wrap: anywhere; }
    .m { display: inline-block; min-width: 4.2rem; font: bold .8rem ui-monospace, monospace; }
    .get { color: #1a7f37; } .post { color: #0969da; } .patch { color: #9a6700; } .delete { color: #cf222e; }
    code, pre { font-family: ui-monospace, monospace; font-size: .85rem; }
    pre { background: #8881; padding: .5rem; overflow: auto; border-radius: 4px; }
    .desc { white-space: pre-wrap; }
  </style>
</head>
<body>
  <h1>nod API</h1>
  <p>The OpenAPI 3.1 document: <a href="/docs/json">/docs/json</a> (load it into any OpenAPI tool).</p>
  <div id="doc">Loading…</div>
  <script>
    const el = (tag, props = {}, ...kids) => { const e = Object.assign(document.createElement(tag), props); e.append(...kids); return e; };
    fetch("/docs/json").then((r) => r.json()).then((spec) => {
      const root = document.getElementById("doc");
      root.textContent = "";
      root.append(el("p", { className: "desc", textContent: spec.info.description }));
      for (const tag of spec.tags) {
        root.append(el("h2", { textContent: tag.name + " — " + tag.description }));
        for (const [path, ops] of Object.entries(spec.paths)) for (const [method, op] of Object.entries(ops)) {
          if (!(op.tags || []).includes(tag.name)) continue;
          const body = el("div");
          if (op.description) body.append(el("p", { className: "desc", textContent: op.description }));
          for (const p of op.parameters || []) body.append(el("div", {}, el("code", { textContent: p.name }), " (" + p.in + (p.required ? ", required" : "") + ")"));
          const schema = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
          if (schema) body.append(el("div", { textContent: "Request body:" }), el("pre", { textContent: JSON.stringify(schema.schema, null, 2) }));
          body.append(el("div", { textContent: "Responses: " + Object.keys(op.responses || {}).join(", ") }));
          root.append(el("details", {}, el("summary", {}, el("span", { className: "m " + method, textContent: method.toUpperCase() }), el("code", { textContent: path }), op.summary ? " — " + op.summary : ""), body));
        }
      }
    }).catch((e) => { document.getElementById("doc").textContent = "Could not load /docs/json: " + e; });
  </script>
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
