// Sign-in, setup and the cross-site check under hostile use: limits hold when
// every attempt arrives at once, an Origin must match the server in scheme,
// host and port, and setup after setup costs no password hashing.
import { describe, expect, spyOn, test } from "bun:test";
import { owner, Person, postFrom, request, startTestServer, type Res } from "./helpers.ts";
import { connectInbox, upgradeStatus } from "./ws-helpers.ts";

const GOOD = { username: "alice", password: "correct horse battery" };

/** Every 429 says why in {"detail"} and when to come back in Retry-After. */
function expectLimited(r: Res | { status: number; body: any; headers: any }) {
  expect(r.status).toBe(429);
  expect(typeof r.body.detail).toBe("string");
  const retry = r.headers instanceof Headers ? r.headers.get("retry-after") : r.headers["retry-after"];
  expect(Number(retry)).toBeGreaterThan(0);
}

describe("an Origin must be this server in scheme, host and port", async () => {
  const server = await startTestServer();
  const port = Number(new URL(server.url).port);
  const alice = await owner(server);
  const { id } = await alice.createAgent();

  /** A signed-in person's fresh session (logout ends the one it is sent with). */
  const session = async () => {
    const p = new Person(server.url);
    expect((await p.post("/api/auth/login", GOOD)).status).toBe(200);
    return p.cookie;
  };
  type Send = (headers: Record<string, string>) => Promise<number>;
  const routes: Record<string, Send> = {
    login: async (h) => (await request(server.url, "POST", "/api/auth/login", { body: GOOD, headers: h })).status,
    logout: async (h) => (await request(server.url, "POST", "/api/auth/logout", { headers: { cookie: await session(), ...h } })).status,
    "POST /api/agents": async (h) => (await request(server.url, "POST", "/api/agents", { body: { name: "x" }, headers: { cookie: alice.cookie, ...h } })).status,
    "PATCH /api/agents/:id": async (h) => (await request(server.url, "PATCH", `/api/agents/${id}`, { body: { name: "y" }, headers: { cookie: alice.cookie, ...h } })).status,
    "DELETE /api/agents/:id": async (h) => {
      const { id } = await alice.createAgent();
      return (await request(server.url, "DELETE", `/api/agents/${id}`, { headers: { cookie: alice.cookie, ...h } })).status;
    },
    "/ws/app": async (h) => (await upgradeStatus(server, "/ws/app", { cookie: alice.cookie, ...h })).status,
  };
  const allowed: Record<string, number> = { login: 200, logout: 204, "POST /api/agents": 201, "PATCH /api/agents/:id": 200, "DELETE /api/agents/:id": 204 };

  const table: [string, Record<string, string>, "ok" | 403][] = [
    ["same origin", { origin: `http://127.0.0.1:${port}` }, "ok"],
    ["same origin by name", { origin: `http://localhost:${port}`, host: `localhost:${port}` }, "ok"],
    ["https on the same host and port", { origin: `https://127.0.0.1:${port}` }, 403],
    ["https on the same name and port", { origin: `https://localhost:${port}`, host: `localhost:${port}` }, 403],
    ["another port", { origin: `http://127.0.0.1:${port + 1}` }, 403],
    ["another host", { origin: `http://127.0.0.2:${port}` }, 403],
    ["Origin: null", { origin: "null" }, 403],
  ];

  for (const [what, headers, expected] of table) {
    test(`${what} → ${expected}`, async () => {
      const got: Record<string, number> = {};
      const want: Record<string, number> = {};
      for (const [route, send] of Object.entries(routes)) {
        if (route === "/ws/app" && expected === "ok") continue; // a real socket below
        got[route] = await send(headers);
        want[route] = expected === "ok" ? allowed[route]! : 403;
      }
      expect(got).toEqual(want);
      if (expected === "ok") {
        const sock = await connectInbox(server, alice, headers);
        expect(sock.hello.user.username).toBe("alice");
        sock.ws.close();
      }
    });
  }
});
