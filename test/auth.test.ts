import { describe, expect, test, setDefaultTimeout } from "bun:test";
import { owner, Person, request, scenarios, startTestServer } from "./helpers.ts";

// This file signs in and out many times (password hashing): a busy machine needs more than bun's default 5 s per test (a hang guard, not a time check).
setDefaultTimeout(60_000);

describe("people: setup, sign-in, sessions", async () => {
  const server = await startTestServer();

  test("a fresh server asks for setup", async () => {
    const r = await request(server.url, "GET", "/api/auth/status");
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ setup_required: true, user: null });
  });

  test("setup rejects a short password and a bad username with 400 naming the field", async () => {
    const p = new Person(server.url);
    let r = await p.post("/api/auth/setup", { username: "alice", password: "short" });
    expect(r.status).toBe(400);
    expect(r.body.detail).toContain("password");
    r = await p.post("/api/auth/setup", { username: "no spaces", password: "long enough pw" });
    expect(r.status).toBe(400);
    expect(r.body.detail).toContain("username");
    r = await p.post("/api/auth/setup", { username: "alice" });
    expect(r.status).toBe(400);
    expect(r.body.detail).toBe("password: required");
  });

  let alice: Person;
  test("setup creates the owner, signs in with an HttpOnly SameSite=Lax cookie, then answers 409", async () => {
    const p = new Person(server.url);
    const r = await p.post("/api/auth/setup", { username: "alice", password: "correct horse battery" });
    expect(r.status).toBe(201);
    expect(r.body.user.username).toBe("alice");
    const cookie = r.headers.get("set-cookie")!;
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Lax");
    expect(cookie).not.toContain("Secure"); // public URL is http
    const again = await new Person(server.url).post("/api/auth/setup", { username: "bob", password: "another password" });
    expect(again.status).toBe(409);
    const status = await p.get("/api/auth/status");
    expect(status.body).toMatchObject({ setup_required: false, user: { username: "alice" } });
    alice = p;
  });

  describe("every people route needs a session: 401 {detail}", () => {
    scenarios(
      (
        [
          ["GET", "/api/agents"],
          ["POST", "/api/agents"],
          ["GET", "/api/decisions"],
          ["GET", "/api/activity"],
          ["GET", "/api/agents/agt_0000000000000000/activity"],
          ["POST", "/api/decisions/dec_x/respond"],
          ["GET", "/api/conversations/conv_x/messages"],
        ] as const
      ).map(([m, path]) => ({
        name: `${m} ${path}`,
        request: () => request(server.url, m, path, { body: m === "POST" ? {} : undefined }),
        status: 401,
        body: { detail: expect.any(String) },
      })),
    );
  });

  test("login: right password 200 with a cookie, wrong one 401", async () => {
    const p = new Person(server.url);
    const bad = await p.post("/api/auth/login", { username: "alice", password: "wrong password" });
    expect(bad.status).toBe(401);
    expect(bad.body.detail).toBe("wrong username or password");
    const unknown = await p.post("/api/auth/login", { username: "nobody", password: "wrong password" });
    expect(unknown.status).toBe(401);
    const ok = await p.post("/api/auth/login", { username: "alice", password: "correct horse battery" });
    expect(ok.status).toBe(200);
    expect((await p.get("/api/agents")).status).toBe(200);
  });

  test("logout clears the cookie and ends the session", async () => {
    const p = new Person(server.url);
    await p.post("/api/auth/login", { username: "alice", password: "correct horse battery" });
    const oldCookie = p.cookie;
    const r = await p.post("/api/auth/logout");
    expect(r.status).toBe(204);
    expect(r.headers.get("set-cookie")).toContain("Max-Age=0");
    const after = await request(server.url, "GET", "/api/agents", { headers: { cookie: oldCookie } });
    expect(after.status).toBe(401);
  });

  test("a cross-site page cannot act for a signed-in person (403); same origin and no Origin are served", async () => {
    const evil = await alice.call("POST", "/api/agents", { name: "x" }, { origin: "https://evil.example" });
    expect(evil.status).toBe(403);
    const fetchMeta = await alice.call("POST", "/api/agents", { name: "x" }, { "sec-fetch-site": "cross-site" });
    expect(fetchMeta.status).toBe(403);
    const same = await alice.call("POST", "/api/agents", { name: "same" }, { origin: server.url });
    expect(same.status).toBe(201);
    const curl = await alice.post("/api/agents", { name: "curl" });
    expect(curl.status).toBe(201);
    // reading is not acting: a GET with a foreign Origin is still answered
    expect((await alice.call("GET", "/api/agents", undefined, { origin: "https://evil.example" })).status).toBe(200);
  });

  test("failed logins are rate-limited per username with 429 and Retry-After", async () => {
    const p = new Person(server.url);
    let last = 0;
    for (let i = 0; i < 12; i++) last = (await p.post("/api/auth/login", { username: "limited", password: "wrong password" })).status;
    expect(last).toBe(429);
    const r = await p.post("/api/auth/login", { username: "limited", password: "wrong password" });
    expect(r.status).toBe(429);
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(r.body.detail).toContain("too many");
  });
});

test("the session cookie is Secure when the public URL is https", async () => {
  const server = await startTestServer({ publicUrl: "https://nod.example.com" });
  const r = await request(server.url, "POST", "/api/auth/setup", { body: { username: "alice", password: "correct horse battery" } });
  expect(r.headers.get("set-cookie")).toContain("Secure");
});

test("owner() helper signs in", async () => {
  const server = await startTestServer();
  const p = await owner(server);
  expect((await p.get("/api/auth/status")).body.user.username).toBe("alice");
});
