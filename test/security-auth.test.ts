// People's sign-in under attack: failing on purpose from one address must not
// lock the owner out from another, guessing stays limited per address and per
// username (whatever its case or surrounding spaces), and cross-site requests
// are refused.
import { describe, expect, test } from "bun:test";
import http from "node:http";
import { owner, startTestServer } from "./helpers.ts";

/** POST JSON from a chosen loopback source address (127.0.0.2, …): another client as the server sees it. */
function postFrom(base: string, localAddress: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const u = new URL(base);
  return new Promise<{ status: number; body: any; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path, method: "POST", localAddress, headers: { "content-type": "application/json", ...headers } },
      (res) => {
        let d = "";
        res.on("data", (c) => (d += c));
        res.on("end", () => resolve({ status: res.statusCode!, body: d ? JSON.parse(d) : null, headers: res.headers }));
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

const GOOD = { username: "alice", password: "correct horse battery" };

describe("sign-in rate limits", async () => {
  const server = await startTestServer();
  await owner(server);

  test("an attacker failing on purpose cannot lock the owner out from another address", async () => {
    let last = 0;
    for (let i = 0; i < 12; i++) last = (await postFrom(server.url, "127.0.0.9", "/api/auth/login", { username: "alice", password: "wrong password" })).status;
    expect(last).toBe(429);
    // the attacker's address stays refused, even with the right password
    expect((await postFrom(server.url, "127.0.0.9", "/api/auth/login", GOOD)).status).toBe(429);
    // the owner, elsewhere, signs in
    const ok = await postFrom(server.url, "127.0.0.2", "/api/auth/login", GOOD);
    expect(ok.status).toBe(200);
    expect(ok.headers["set-cookie"]?.[0]).toContain("nod_session=");
  });

  test("while the username is under attack, each further address gets one guess", async () => {
    // (the previous test put alice over the per-username limit)
    expect((await postFrom(server.url, "127.0.0.3", "/api/auth/login", { username: "alice", password: "guess 1" })).status).toBe(401);
    expect((await postFrom(server.url, "127.0.0.3", "/api/auth/login", { username: "alice", password: "guess 2" })).status).toBe(429);
    // the same username in other case or with spaces counts as the same one
    expect((await postFrom(server.url, "127.0.0.3", "/api/auth/login", { username: " ALICE ", password: "guess 3" })).status).toBe(429);
  });

  test("one address is limited across usernames", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 32; i++) statuses.push((await postFrom(server.url, "127.0.0.4", "/api/auth/login", { username: `user${i}`, password: "wrong password" })).status);
    expect(statuses.slice(0, 30).every((s) => s === 401)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
  });
});
