// Operations endpoints: OpenAPI at /docs and /docs/json, Prometheus /metrics behind a token.
import { describe, expect, test, setDefaultTimeout } from "bun:test";
import { request, startTestServer, withAgent } from "./helpers.ts";
import { launch } from "./e2e-helpers.ts";

// This file launches a browser and runs the nod CLI: a busy machine needs more than bun's default 5 s per test (a hang guard, not a time check).
setDefaultTimeout(60_000);

describe("OpenAPI: /docs and /docs/json", async () => {
  const server = await startTestServer();

  test("/docs is a reference page that loads /docs/json", async () => {
    const res = await fetch(server.url + "/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(await res.text()).toContain("/docs/json");
  });

  test("/docs renders the operations in a browser, with no outside requests", async () => {
    const browser = await launch();
    try {
      const page = await browser.newPage();
      const outside: string[] = [];
      page.on("request", (r) => void (new URL(r.url()).host !== new URL(server.url).host && outside.push(r.url())));
      await page.goto(server.url + "/docs");
      await page.getByText("/api/agent/events", { exact: true }).first().waitFor();
      expect(await page.locator("details").count()).toBeGreaterThan(30);
      expect(outside).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  test("/docs/json describes both sides from the routes' schemas", async () => {
    const res = await request(server.url, "GET", "/docs/json");
    expect(res.status).toBe(200);
    const spec = res.body;
    expect(spec.openapi).toMatch(/^3\.1/);
    expect(spec.info.title).toBe("nod");
    const paths = spec.paths as Record<string, Record<string, any>>;
    // agent side
    const events = paths["/api/agent/events"]!.post;
    expect(events.tags).toEqual(["agent"]);
    expect(events.security).toEqual([{ agentId: [], agentSecret: [] }]);
    const kinds = events.requestBody.content["application/json"].schema.oneOf.map((s: any) => s.properties.type.const);
    expect(kinds).toEqual(["message", "decision", "alert", "processing_start", "processing_stop", "task_proposal"]);
    expect(paths["/api/agent/decisions/{decision_id}"]!.get.description).toContain("nod's addition");
    // people side, with the body schema of the route
    const respond = paths["/api/decisions/{id}/respond"]!.post;
    expect(respond.tags).toEqual(["people"]);
    expect(respond.security).toEqual([{ session: [] }]);
    expect(respond.requestBody.content["application/json"].schema.required).toEqual(["status"]);
    expect(paths["/api/agents"]!.post).toBeDefined();
    expect(paths["/healthz"]!.get).toBeDefined();
    // never the internals
    expect(Object.keys(paths).filter((p) => p.startsWith("/docs") || p === "/metrics" || p.startsWith("/ws/"))).toEqual([]);
    expect(JSON.stringify(spec)).not.toContain('"error"');
    expect(spec.components.securitySchemes.agentSecret).toEqual({ type: "apiKey", in: "header", name: "X-Nod-Secret" });
  });
});

describe("/metrics", () => {
  test("does not exist without --metrics-token", async () => {
    const server = await startTestServer();
    expect((await request(server.url, "GET", "/metrics")).status).toBe(404);
    expect((await request(server.url, "GET", "/metrics", { headers: { authorization: "Bearer anything" } })).status).toBe(404);
  });

  test("answers Prometheus text for the right bearer token only", async () => {
    const server = await startTestServer({ metricsToken: "s3cret-scrape-token" });
    const { agent } = await withAgent(server);
    await agent.event({ type: "alert", title: "counted" });

    const none = await request(server.url, "GET", "/metrics");
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    expect(none.body.detail).toContain("Bearer");
    expect((await request(server.url, "GET", "/metrics", { headers: { authorization: "Bearer wrong" } })).status).toBe(401);

    const res = await fetch(server.url + "/metrics", { headers: { authorization: "Bearer s3cret-scrape-token" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    const text = await res.text();
    expect(text).toMatch(/^nod_build_info\{version="[^"]+",commit="[^"]+"\} 1$/m);
    expect(text).toContain("# TYPE nod_agent_sockets_open gauge");
    expect(text).toMatch(/^nod_agent_sockets_open 0$/m);
    expect(text).toMatch(/^nod_agents_online 0$/m);
    expect(text).toMatch(/^nod_events_received_total\{type="alert"\} 1$/m);
    // every sample line is "name{labels} number"
    for (const line of text.split("\n").filter((l) => l && !l.startsWith("#"))) expect(line).toMatch(/^[a-z_:][a-z0-9_:]*(\{.*\})? -?[0-9.e+-]+$/i);
  });
});
