// People's sign-in under attack: failing on purpose from one address must not
// lock the owner out from another, guessing stays limited per address and per
// username (whatever its case or surrounding spaces), also when every attempt
// arrives at once, and cross-site requests are refused.
import { describe, expect, test, setDefaultTimeout } from "bun:test";
import { AgentClient, expectLimited, owner, postFrom, request, startTestServer } from "./helpers.ts";
import { addressKey } from "../server/auth/rate-limit.ts";
import { connectInbox } from "./ws-helpers.ts";

// This file hashes a password (argon2id, 64 MiB) for each of many sign-in attempts:
// about 0.12 s of CPU each, ten times that on a machine busy with other work.
// The timeouts are hang guards, not time checks.
setDefaultTimeout(60_000);

const GOOD = { username: "alice", password: "correct horse battery" };

describe("sign-in rate limits", async () => {
  const server = await startTestServer();
  await owner(server);

  test("an attacker failing on purpose cannot lock the owner out from another address, also when the attempts arrive at once", async () => {
    const wrong = { username: "alice", password: "wrong password" };
    for (let i = 0; i < 9; i++) expect((await postFrom(server.url, "127.0.0.9", "/api/auth/login", wrong)).status).toBe(401);
    // 100 at once: each attempt is counted before its password is checked, so
    // exactly one more (the 10th) is checked and every other one is refused
    const all = await Promise.all(Array.from({ length: 100 }, () => postFrom(server.url, "127.0.0.9", "/api/auth/login", wrong)));
    expect(all.filter((r) => r.status === 401).length).toBe(1);
    for (const r of all.filter((r) => r.status !== 401)) expectLimited(r);
    // the attacker's address stays refused, even with the right password
    expectLimited(await postFrom(server.url, "127.0.0.9", "/api/auth/login", GOOD));
    // the owner, elsewhere, signs in
    const ok = await postFrom(server.url, "127.0.0.2", "/api/auth/login", GOOD);
    expect(ok.status).toBe(200);
    expect(ok.headers["set-cookie"]?.[0]).toContain("nod_session=");
  }, 120_000);

  test("while the username is under attack, each further address gets one guess", async () => {
    // (the previous test put alice over the per-username limit)
    expect((await postFrom(server.url, "127.0.0.3", "/api/auth/login", { username: "alice", password: "guess 1" })).status).toBe(401);
    expect((await postFrom(server.url, "127.0.0.3", "/api/auth/login", { username: "alice", password: "guess 2" })).status).toBe(429);
    // the same username in other case or with spaces counts as the same one
    expect((await postFrom(server.url, "127.0.0.3", "/api/auth/login", { username: " ALICE ", password: "guess 3" })).status).toBe(429);
  });

  test("at most 10 new addresses get their guess; the owner's usual address still signs in", async () => {
    // 127.0.0.3 used one fresh guess above; nine more new addresses use the rest
    for (let i = 10; i < 19; i++) expect((await postFrom(server.url, `127.0.0.${i}`, "/api/auth/login", { username: "alice", password: "guess" })).status).toBe(401);
    expect((await postFrom(server.url, "127.0.0.60", "/api/auth/login", { username: "alice", password: "guess" })).status).toBe(429);
    expect((await postFrom(server.url, "127.0.0.61", "/api/auth/login", GOOD)).status).toBe(429);
    // 127.0.0.2 signed in before: it is known, and still gets in
    expect((await postFrom(server.url, "127.0.0.2", "/api/auth/login", GOOD)).status).toBe(200);
  });

  test("IPv6 addresses are limited by their /64", () => {
    expect(addressKey("2001:db8:1:2:aaaa::1")).toBe(addressKey("2001:db8:1:2:bbbb:cccc:dddd:eeee"));
    expect(addressKey("2001:db8:1:2::1")).not.toBe(addressKey("2001:db8:1:3::1"));
    expect(addressKey("2001:0db8:0001:0002::")).toBe(addressKey("2001:db8:1:2:ffff::"));
    expect(addressKey("::ffff:10.0.0.1")).toBe("10.0.0.1");
    expect(addressKey("10.0.0.1")).toBe("10.0.0.1");
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
  });
});

describe("one address across usernames", async () => {
  const server = await startTestServer();
  await owner(server);

  test("one address is limited across usernames: 30 failures are checked, also when they arrive at once; a right password takes back the attempt counted for it", async () => {
    const from = (body: { username: string; password: string }) => postFrom(server.url, "127.0.0.4", "/api/auth/login", body);
    const wrong = (i: number) => from({ username: `user${i}`, password: "wrong password" });
    for (let i = 0; i < 29; i++) expect((await wrong(i)).status).toBe(401);
    // counted up front like any attempt, and taken back because it was right
    expect((await from(GOOD)).status).toBe(200);
    // 100 at once: exactly one more failure (the 30th) is checked, the rest are refused
    const all = await Promise.all(Array.from({ length: 100 }, (_, i) => wrong(100 + i)));
    expect(all.filter((r) => r.status === 401).length).toBe(1);
    for (const r of all.filter((r) => r.status !== 401)) expectLimited(r);
    expectLimited(await wrong(200));
  }, 120_000); // 31 argon2id verifications: about 4 s of CPU, far more on a busy machine
});

describe("cross-site requests", async () => {
  const server = await startTestServer({ publicUrl: "https://nod.example.com" });
  const port = new URL(server.url).port;

  test("setup from another site's page is refused; from the server's own page it works", async () => {
    const evil = await request(server.url, "POST", "/api/auth/setup", { body: GOOD, headers: { origin: "http://evil.example" } });
    expect(evil.status).toBe(403);
    expect((await request(server.url, "GET", "/api/auth/status")).body.setup_required).toBe(true);
    const ok = await request(server.url, "POST", "/api/auth/setup", { body: GOOD, headers: { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` } });
    expect(ok.status).toBe(201);
  });

  test("Origin: null, another port or another host is refused for a signed-in person", async () => {
    const p = await (async () => {
      const r = await request(server.url, "POST", "/api/auth/login", { body: GOOD });
      return r.headers.get("set-cookie")!.split(";")[0]!;
    })();
    for (const origin of ["null", `http://127.0.0.1:${Number(port) + 1}`, "http://evil.example", "file://", "http://nod.example.com"]) {
      const r = await request(server.url, "POST", "/api/agents", { body: { name: "x" }, headers: { cookie: p, origin } });
      expect({ origin, status: r.status }).toEqual({ origin, status: 403 });
    }
    expect((await request(server.url, "POST", "/api/agents", { body: { name: "x" }, headers: { cookie: p, origin: server.url } })).status).toBe(201);
    // behind a TLS proxy: Host is the public name, Origin its https URL
    expect((await request(server.url, "POST", "/api/agents", { body: { name: "x" }, headers: { cookie: p, origin: "https://nod.example.com", host: "nod.example.com" } })).status).toBe(201);
    // the public name over plain http is another origin (a network attacker's page)
    expect((await request(server.url, "POST", "/api/agents", { body: { name: "x" }, headers: { cookie: p, origin: "http://nod.example.com", host: "nod.example.com" } })).status).toBe(403);
  });
});

test("signing out closes that session's inbox socket at once (it would otherwise keep receiving every frame)", async () => {
  const server = await startTestServer();
  const p = await owner(server);
  const created = await p.createAgent({ name: "Talker" });
  const agent = new AgentClient(server.url, created.id, created.secret);
  const sock = await connectInbox(server, p);
  expect((await p.post("/api/auth/logout")).status).toBe(204);
  // Closed by the sign-out itself, not by a later sweep: what the agent says
  // after the sign-out answered never reaches that socket.
  expect((await agent.event({ type: "message", text: "after sign-out" })).status).toBe(200);
  expect((await sock.closed).code).toBe(4401);
  expect(JSON.stringify(sock.frames)).not.toContain("after sign-out");
});
