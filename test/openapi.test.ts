// /docs/json comes from the routes' own schemas: every operation names its
// success (with the right code and a schema) and its errors (the one Error
// schema), every route that reads a body documents it, and every answer is
// checked against its schema as it is sent.
import { describe, expect, test } from "bun:test";
import { Elysia, t } from "elysia";
import { makeConfig } from "../server/config.ts";
import { httpBasics } from "../server/http.ts";
import { Logger } from "../server/lib/log.ts";
import type { Ctx } from "../server/context.ts";
import { startTestServer } from "./helpers.ts";

// POSTs that take no body: they act on the ids in their path.
const NO_BODY = new Set([
  "post /api/auth/logout",
  "post /api/agents/{id}/secret",
  "post /api/conversations/{id}/read",
  "post /api/deliveries/{event_id}/retry",
  "post /api/tasks/{id}/run",
  "post /api/agent/tasks/{task_id}/run/start",
  "post /api/agent/decisions/{decision_id}/cancel",
  "post /api/push/test",
]);
/** Routes that create or update: 201 for a new thing, 200 for the same one again. */
const CREATE_OR_UPDATE = new Set(["post /api/push/subscriptions"]);

const ERROR_REF = "#/components/schemas/Error";

describe("/docs/json, from each route's schemas", async () => {
  const server = await startTestServer();
  const spec: any = await (await fetch(server.url + "/docs/json")).json();
  const ops: { key: string; op: any }[] = [];
  for (const [path, methods] of Object.entries(spec.paths as Record<string, Record<string, any>>))
    for (const [method, op] of Object.entries(methods)) ops.push({ key: `${method} ${path}`, op });

  test("every operation has one success answer with a schema (a 204 has no body)", () => {
    expect(ops.length).toBeGreaterThan(30);
    const wrong: string[] = [];
    for (const { key, op } of ops) {
      const success = Object.keys(op.responses ?? {}).filter((c) => c.startsWith("2"));
      if (CREATE_OR_UPDATE.has(key) && success.join() === "200,201") success.shift(); // both carry the same schema
      if (success.length !== 1) {
        wrong.push(`${key}: success codes ${success.join(",") || "none"}`);
        continue;
      }
      const res = op.responses[success[0]!];
      if (success[0] === "204") {
        if (res.content) wrong.push(`${key}: a 204 with a body`);
        continue;
      }
      const media = Object.values(res.content ?? {}) as any[];
      if (!media.length || !media.every((m) => m?.schema && Object.keys(m.schema).length)) wrong.push(`${key}: ${success[0]} without a schema`);
    }
    expect(wrong).toEqual([]);
  });

  test("the codes are the ones sent: 201 creates, 202 the trigger, 204 deletes, 200 the rest", () => {
    const code = (key: string) => Object.keys(ops.find((o) => o.key === key)!.op.responses).find((c) => c.startsWith("2"));
    expect(code("post /api/agents")).toBe("201");
    expect(code("post /webhook/{trigger_id}")).toBe("202");
    expect(code("delete /api/tasks/{id}")).toBe("204");
    expect(code("post /api/agent/events")).toBe("200");
    expect(code("get /api/agent/decisions/{decision_id}")).toBe("200");
  });

  test("every route that reads a body documents it with a schema", () => {
    const missing: string[] = [];
    for (const { key, op } of ops) {
      if (!/^(post|patch|put) /.test(key) || NO_BODY.has(key)) continue;
      const media = Object.values(op.requestBody?.content ?? {}) as any[];
      if (!media.length || !media.every((m) => m?.schema)) missing.push(key);
    }
    expect(missing).toEqual([]);
    for (const key of NO_BODY) expect(ops.find((o) => o.key === key)?.op.requestBody, key).toBeUndefined();
  });

  test("every error answer is the one Error schema, {detail}", () => {
    expect(spec.components.schemas.Error).toMatchObject({ type: "object", required: ["detail"], properties: { detail: { type: "string" } } });
    const wrong: string[] = [];
    for (const { key, op } of ops)
      for (const [code, res] of Object.entries(op.responses as Record<string, any>))
        if (code.startsWith("4") && res.content?.["application/json"]?.schema?.$ref !== ERROR_REF) wrong.push(`${key} ${code}`);
    expect(wrong).toEqual([]);
    // protected routes say so: 401 without credentials
    for (const { key, op } of ops) if (op.security) expect(Object.keys(op.responses), key).toContain("401");
  });

  test("every operation has a summary, a tag, and the credentials its group needs", () => {
    for (const { key, op } of ops) {
      expect(op.summary, key).toBeString();
      expect(op.tags?.length, key).toBe(1);
      if (key.includes(" /api/agent/")) expect(op.security, key).toEqual([{ agentId: [], agentSecret: [] }]);
      else if (key.includes(" /api/") && !key.includes(" /api/auth/")) expect(op.security, key).toEqual([{ session: [] }]);
      else expect(op.security, key).toBeUndefined();
    }
  });

  test("answers are described field by field: nullable fields, times, lists", () => {
    const agent = ops.find((o) => o.key === "get /api/agents/{id}")!.op.responses["200"].content["application/json"].schema;
    expect(agent.properties.avatar.type).toEqual(["string", "null"]);
    expect(agent.properties.created_at).toMatchObject({ type: "string", format: "date-time" });
    expect(agent.required).not.toContain("webhook_secret");
    const list = ops.find((o) => o.key === "get /api/decisions")!.op.responses["200"].content["application/json"].schema;
    expect(list.type).toBe("array");
    expect(list.items.properties.status.enum).toEqual(["pending", "approved", "rejected", "responded", "dismissed", "expired", "cancelled"]);
  });
});

test("an answer that does not fit its route's response schema is nod's bug: 500, logged, not a 400", async () => {
  const lines: string[] = [];
  const log = new Logger("error");
  log.error = (msg: string) => void lines.push(msg);
  const ctx = { config: makeConfig({ dataDir: "/nonexistent" }), log } as unknown as Ctx;
  const app = new Elysia()
    .use(httpBasics(ctx))
    .get("/wrong", () => ({ id: 42 }) as unknown as { id: string }, { response: { 200: t.Object({ id: t.String() }) } })
    .listen({ port: 0, hostname: "127.0.0.1" });
  try {
    const res = await fetch(`http://127.0.0.1:${app.server!.port}/wrong`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ detail: "internal error" });
    expect(lines).toEqual(["unhandled error"]);
  } finally {
    await app.stop(true);
  }
});
