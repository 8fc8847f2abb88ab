// Bad input never gets a 500: every route in the OpenAPI document is called,
// signed in as a person and as an agent, with path ids that do not exist and
// bodies that are not what it expects. Each answer must be a client error
// (4xx) with a JSON {"detail"} naming the problem — or a success.
import { describe, expect, test } from "bun:test";
import { request, startTestServer, withAgent } from "./helpers.ts";

const BODIES: (string | undefined)[] = [
  undefined,
  "",
  "{not json",
  "[]",
  "null",
  '"text"',
  "42",
  "{}",
  '{"type":{"nested":true},"name":[],"text":7,"title":null,"status":"approved","schedule":"* * *","decision_id":5}',
  JSON.stringify({ type: "message", text: "x".repeat(200_000), name: "y".repeat(5000), schedule: "x".repeat(5000) }),
  JSON.stringify({ type: "decision", title: "t", description: "d", kind: "choice", options: Array(500).fill("o") }),
];

const ID_VALUES = ["nope", "agt_0000000000000000", "%00", "x".repeat(300), "..%2F..%2Fetc"];

describe("no 500 for anything a client sends", async () => {
  const server = await startTestServer();
  const { person, created } = await withAgent(server);
  const spec = (await request(server.url, "GET", "/docs/json")).body;
  const ops: { method: string; path: string }[] = [];
  for (const [path, methods] of Object.entries(spec.paths as Record<string, Record<string, unknown>>))
    for (const method of Object.keys(methods)) if (["get", "post", "patch", "put", "delete"].includes(method)) ops.push({ method: method.toUpperCase(), path });

  test("the document lists the routes of both sides", () => {
    expect(ops.length).toBeGreaterThan(30);
    expect(ops.some((o) => o.path === "/api/agent/events")).toBe(true);
  });

  test("every route, every bad body, as a person and as an agent", async () => {
    const failures: string[] = [];
    const seen = new Map<number, number>();
    const who: Record<string, string>[] = [
      { cookie: person.cookie },
      { "x-nod-agent-id": created.id, "x-nod-secret": created.secret },
    ];
    for (const op of ops) {
      if (op.path === "/api/auth/logout") continue; // would sign the person out for the rest of the run
      for (const id of ID_VALUES) {
        const path = op.path.replace(/\{[^}]+\}/g, encodeURIComponent(id).replace(/%25/g, "%"));
        for (const raw of op.method === "GET" || op.method === "DELETE" ? [undefined] : BODIES) {
          for (const headers of who) {
            const query = op.method === "GET" ? "?limit=abc&before=%00&status=weird&wait=-1&agent_id=x&schedule=%2A&timezone=Mars%2FBase" : "";
            const res = await request(server.url, op.method, path + query, { raw, headers: { ...headers, ...(raw !== undefined ? { "content-type": "application/json" } : {}) } });
            seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
            const bad = res.status >= 500 || (res.status >= 400 && typeof res.body?.detail !== "string");
            if (bad) failures.push(`${op.method} ${path} ${String(raw).slice(0, 40)} → ${res.status} ${JSON.stringify(res.body).slice(0, 120)}`);
          }
        }
      }
    }
    expect(failures).toEqual([]);
    // the run really exercised the error paths
    for (const status of [400, 401, 404, 413]) expect(seen.get(status) ?? 0, `answers with ${status}`).toBeGreaterThan(0);
    console.log(`robustness: ${[...seen.values()].reduce((a, b) => a + b, 0)} requests, by status ${JSON.stringify(Object.fromEntries(seen))}`);
  }, 60_000);
});
