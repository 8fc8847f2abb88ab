// Hostile input: "__proto__" keys in JSON bodies and frames pollute nothing,
// media is served inert, and the claude-hook's always-allow patterns match in
// linear time whatever the pattern and command.
import { describe, expect, test } from "bun:test";
import { request, withAgent, startTestServer } from "./helpers.ts";
import { connectAgent } from "./ws-helpers.ts";
import { patternMatches } from "../server/cli/claude-hook.ts";

const PNG = Buffer.from("89504e470d0a1a0a0000000d4948445200000001000000010806000000", "hex").toString("base64");

describe("hostile input", async () => {
  const server = await startTestServer();
  const { person, created, agent } = await withAgent(server);

  test('"__proto__" and "constructor" keys in bodies and frames change no prototype', async () => {
    const evil = '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}';
    const inject = (body: Record<string, unknown>) => JSON.stringify(body).replace(/^\{/, evil.slice(0, -1) + ",");
    const h = { "content-type": "application/json", cookie: person.cookie };
    const ah = { "content-type": "application/json", "x-nod-agent-id": created.id, "x-nod-secret": created.secret };
    await request(server.url, "POST", "/api/agents", { raw: inject({ name: "p" }), headers: h });
    await request(server.url, "PATCH", `/api/agents/${created.id}`, { raw: inject({ avatar: "x" }), headers: h });
    await request(server.url, "POST", "/api/auth/login", { raw: inject({ username: "u", password: "p" }) });
    await request(server.url, "POST", "/api/agent/events", { raw: inject({ type: "message", text: "hi" }), headers: ah });
    await request(server.url, "POST", "/api/agent/events", { raw: inject({ type: "decision", kind: "question", title: "t", description: "d" }), headers: ah });
    const task = await agent.post("/api/agent/tasks", { name: "hook", prompt: "p", schedule: "event" });
    await request(server.url, "POST", new URL(task.body.trigger_url).pathname, { raw: evil, headers: { "content-type": "application/json" } });
    const ws = await connectAgent(server, created);
    ws.send(inject({ type: "status", action: "a", details: JSON.parse(evil) }));
    ws.send(inject({ type: "message", text: "over ws" }));
    await ws.request({ type: "agent_heartbeat" });
    await ws.close();
    expect(({} as any).polluted).toBeUndefined();
    expect((Object.prototype as any).polluted).toBeUndefined();
    // the server still answers normally
    expect((await person.get("/api/agents")).status).toBe(200);
  });

  test("media is served inert: image type, nosniff, a sandboxing CSP; bad names 404", async () => {
    const r = await agent.event({ type: "message", image_base64: PNG });
    expect(r.status).toBe(200);
    const msgs = (await person.get(`/api/conversations/${r.body.conversation_id}/messages`)).body;
    const url = (msgs.messages ?? msgs).find((m: any) => m.image_url).image_url as string;
    const res = await fetch(server.url + new URL(url).pathname);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("content-security-policy")).toContain("sandbox");
    for (const bad of ["../nod.db", "..%2fnod.db", "x.svg", "0123456789abcdef0123456789abcdef.svg", "0123456789abcdef0123456789abcdef.png/.."])
      expect((await fetch(`${server.url}/media/${bad}`)).status).toBe(404);
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>').toString("base64");
    expect((await agent.event({ type: "message", image_base64: svg })).status).toBe(400);
    expect((await agent.event({ type: "message", image_base64: "data:image/svg+xml;base64," + svg })).status).toBe(400);
  });
});

describe("claude-hook patterns", () => {
  // How fast is measured in bench/adversarial.ts; a backtracking matcher would not finish here at all.
  test("many-star patterns against long commands give the right answers", () => {
    const call = { tool: "Bash", arg: "a".repeat(50_000) };
    expect(patternMatches("Bash(" + "*a".repeat(40) + "*b)", call)).toBe(false);
    expect(patternMatches("Bash(" + "a*".repeat(40) + ")", call)).toBe(true);
    expect(patternMatches("Bash(npm install *)", { tool: "Bash", arg: "npm install left-pad" })).toBe(true);
    expect(patternMatches("Bash(npm install *)", { tool: "Bash", arg: "npm installx" })).toBe(false);
    expect(patternMatches("Bash(npm *test)", { tool: "Bash", arg: "npm run test" })).toBe(true);
    expect(patternMatches("Read(/src/*)", { tool: "Read", arg: "/src/a/b.ts" })).toBe(true);
    expect(patternMatches("Read(/src/*.ts)", { tool: "Read", arg: "/src/a.tsx" })).toBe(false);
    expect(patternMatches("Read(/src/*)", { tool: "Read", arg: "/etc/passwd" })).toBe(false);
    expect(patternMatches("Bash(echo *)", { tool: "Bash", arg: "echo a && rm -rf /" })).toBe(false);
    expect(patternMatches("Read(*a*b*)", { tool: "Read", arg: "xxaxxbxx" })).toBe(true);
    expect(patternMatches("Read(*a*b*)", { tool: "Read", arg: "xxbxxaxx" })).toBe(false);
  });
});

describe("body limits", async () => {
  const server = await startTestServer();
  const { person, agent } = await withAgent(server);
  const chunked = (size: number, prefix: string, suffix: string) =>
    new ReadableStream({
      start(c) {
        const enc = new TextEncoder();
        c.enqueue(enc.encode(prefix));
        for (let sent = 0; sent < size; sent += 64 * 1024) c.enqueue(enc.encode("a".repeat(64 * 1024)));
        c.enqueue(enc.encode(suffix));
        c.close();
      },
    });

  test("a chunked body (no Content-Length) is held to the route's limit like any other", async () => {
    const post = (path: string, size: number, headers: Record<string, string>) =>
      fetch(server.url + path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: chunked(size, '{"name":"', '"}'), duplex: "half" } as RequestInit);
    const big = await post("/api/auth/login", 2 * 1024 * 1024, {});
    expect(big.status).toBe(413);
    expect((await big.json()).detail).toContain("too large");
    expect((await post("/api/agents", 1024 * 1024, { cookie: person.cookie })).status).toBe(413);
    // small chunked bodies are read as usual
    const small = await fetch(server.url + "/api/agents", { method: "POST", headers: { "content-type": "application/json", cookie: person.cookie }, body: chunked(0, '{"name":"chunked', '"}'), duplex: "half" } as RequestInit);
    expect(small.status).toBe(201);
    expect((await small.json()).name).toStartWith("chunked");
    const ev = await fetch(server.url + "/api/agent/events", {
      method: "POST",
      headers: { "content-type": "application/json", "x-nod-agent-id": agent.id, "x-nod-secret": agent.secret },
      body: chunked(0, '{"type":"message","text":"chunked', '"}'),
      duplex: "half",
    } as RequestInit);
    expect(ev.status).toBe(200);
  });
});

test("a malformed session cookie is no session (401 / signed out), never a 500", async () => {
  const server = await startTestServer();
  const cookie = "nod_session=%E0%A4%A";
  expect((await request(server.url, "GET", "/api/agents", { headers: { cookie } })).status).toBe(401);
  const status = await request(server.url, "GET", "/api/auth/status", { headers: { cookie } });
  expect(status.status).toBe(200);
  expect(status.body.user).toBeNull();
  expect((await request(server.url, "GET", "/ws/app", { headers: { cookie } })).status).toBe(401);
});
