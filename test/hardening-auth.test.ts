// Setup and the cross-site check under hostile use: an Origin must match the
// server in scheme, host and port, and setup after setup costs no password
// hashing. (Sign-in limits when every attempt arrives at once: security-auth.test.ts.)
import { describe, expect, spyOn, test } from "bun:test";
import { expectLimited, owner, postFrom, request, startTestServer, writeDb } from "./helpers.ts";
import { connectInbox, upgradeStatus } from "./ws-helpers.ts";
import { createSession, SESSION_COOKIE } from "../server/auth/service.ts";

const GOOD = { username: "alice", password: "correct horse battery" };

describe("an Origin must be this server in scheme, host and port", async () => {
  const server = await startTestServer();
  const port = Number(new URL(server.url).port);
  const alice = await owner(server);
  const { id } = await alice.createAgent();

  const aliceId = (await alice.get("/api/auth/status")).body.user.id as string;
  /** A fresh session of alice's, as sign-in makes it (logout ends the one it is sent with). */
  const session = async () => `${SESSION_COOKIE}=${await createSession(writeDb(server.ctx), aliceId)}`;
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

describe("setup", () => {
  test("after setup, 50 setups at once are all 409 without hashing a password", async () => {
    const server = await startTestServer();
    await owner(server);
    const hash = spyOn(Bun.password, "hash");
    try {
      const all = await Promise.all(
        Array.from({ length: 50 }, (_, i) => request(server.url, "POST", "/api/auth/setup", { body: { username: `mallory${i}`, password: "some long password" } })),
      );
      expect(all.map((r) => r.status)).toEqual(Array(50).fill(409));
      expect(typeof all[0]!.body.detail).toBe("string");
      expect(hash).not.toHaveBeenCalled();
    } finally {
      hash.mockRestore();
    }
  }, 60_000);

  test("setups racing on a fresh server make exactly one owner", async () => {
    const server = await startTestServer();
    const all = await Promise.all(
      Array.from({ length: 5 }, (_, i) => postFrom(server.url, `127.0.0.${20 + i}`, "/api/auth/setup", { username: `owner${i}`, password: "some long password" })),
    );
    expect(all.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409]);
    const winner = all.find((r) => r.status === 201)!.body.user.username;
    expect((await request(server.url, "GET", "/api/auth/status")).body.setup_required).toBe(false);
    for (let i = 0; i < 5; i++) {
      const r = await request(server.url, "POST", "/api/auth/login", { body: { username: `owner${i}`, password: "some long password" } });
      expect({ i, status: r.status }).toEqual({ i, status: `owner${i}` === winner ? 200 : 401 });
    }
  }, 60_000);

  test("setup attempts are limited per address; another address can still set up", async () => {
    const server = await startTestServer();
    for (let i = 0; i < 10; i++) expect((await postFrom(server.url, "127.0.0.7", "/api/auth/setup", { username: "alice", password: "short" })).status).toBe(400);
    expectLimited(await postFrom(server.url, "127.0.0.7", "/api/auth/setup", GOOD));
    expect((await postFrom(server.url, "127.0.0.8", "/api/auth/setup", GOOD)).status).toBe(201);
  });
});
