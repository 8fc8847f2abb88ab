// What any nod instance must see the same: the sign-in limits live in the
// database, so a restart does not reset them and servers sharing a database
// count together; each instance has a name (logs, /metrics); /healthz says
// whether the database answers.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { expectLimited, owner, postFrom, startTestServer } from "./helpers.ts";

// Each sign-in attempt hashes a password (argon2id): about 0.12 s of CPU, ten
// times that on a busy machine. A hang guard, not a time check.
setDefaultTimeout(60_000);

const GOOD = { username: "alice", password: "correct horse battery" };
const WRONG = { username: "alice", password: "wrong password" };
const login = (url: string, from: string, body: { username: string; password: string }) => postFrom(url, from, "/api/auth/login", body);

describe("sign-in limits survive a restart", async () => {
  let server = await startTestServer();
  await owner(server);

  test("failures before the restart still count after it; an address alice signed in from before still gets in", async () => {
    expect((await login(server.url, "127.0.0.2", GOOD)).status).toBe(200); // alice's usual address
    for (let i = 0; i < 9; i++) expect((await login(server.url, "127.0.0.9", WRONG)).status).toBe(401);
    server = await server.restart();
    // the 10th failure is the last one checked, for the address and for alice
    expect((await login(server.url, "127.0.0.9", WRONG)).status).toBe(401);
    expectLimited(await login(server.url, "127.0.0.9", GOOD));
    // alice is under attack now: a new address is refused after its one guess…
    expect((await login(server.url, "127.0.0.3", WRONG)).status).toBe(401);
    expectLimited(await login(server.url, "127.0.0.3", GOOD));
    // …while the address she signed in from before the restart still gets in
    expect((await login(server.url, "127.0.0.2", GOOD)).status).toBe(200);
  });
});

test("setup attempts counted before a restart still count after it", async () => {
  let server = await startTestServer();
  const bad = { username: "alice", password: "short" };
  for (let i = 0; i < 6; i++) expect((await postFrom(server.url, "127.0.0.7", "/api/auth/setup", bad)).status).toBe(400);
  server = await server.restart();
  for (let i = 0; i < 4; i++) expect((await postFrom(server.url, "127.0.0.7", "/api/auth/setup", bad)).status).toBe(400);
  expectLimited(await postFrom(server.url, "127.0.0.7", "/api/auth/setup", GOOD));
});

test("two servers on one database count together: failures on one are refused by the other", async () => {
  const first = await startTestServer();
  await owner(first);
  const second = await startTestServer({}, first.dataDir);
  for (let i = 0; i < 5; i++) expect((await login(first.url, "127.0.0.9", WRONG)).status).toBe(401);
  for (let i = 0; i < 5; i++) expect((await login(second.url, "127.0.0.9", WRONG)).status).toBe(401);
  expectLimited(await login(first.url, "127.0.0.9", WRONG));
  expectLimited(await login(second.url, "127.0.0.9", GOOD));
  expect((await login(second.url, "127.0.0.2", GOOD)).status).toBe(200);
});

test("a window ends after 15 minutes: the address may try again, and the ended windows are deleted", async () => {
  let shift = 0;
  const server = await startTestServer({ now: () => Date.now() + shift });
  await owner(server);
  for (let i = 0; i < 10; i++) expect((await login(server.url, "127.0.0.9", WRONG)).status).toBe(401);
  expectLimited(await login(server.url, "127.0.0.9", GOOD));
  const rows = () => server.ctx.db.$client.query("SELECT key FROM auth_limits ORDER BY key").all().map((r) => (r as { key: string }).key);
  expect(rows()).toEqual(["ip:127.0.0.9", "pair:alice\n127.0.0.9", "user:alice"]);
  shift = 15 * 60_000 + 1000;
  const ok = await login(server.url, "127.0.0.9", GOOD);
  expect(ok.status).toBe(200);
  // what the old window counted is gone; the right password took back its own attempt
  expect(rows()).toEqual([]);
});
