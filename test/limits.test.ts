// Degrade, don't die: nod run under a small open-file limit (`ulimit -n 200`)
// refuses new agent sockets cleanly before the limit, keeps /healthz, people
// and the sockets already open working, and answers at once even when the
// descriptors do run out.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { eventually, owner, request, tempDir } from "./helpers.ts";
import { connectAgent, connectInbox, FrameSocket, webhookReceiver } from "./ws-helpers.ts";
import { MAIN, spawnNod } from "./cli-util.ts";

setDefaultTimeout(60_000); // a hang guard: hundreds of sockets on a busy machine

const LIMIT = 200;
const TOKEN = "metrics-token-for-limits";

async function startLimited(limit: number, extra: string[] = []) {
  const data = tempDir();
  const nod = spawnNod(
    ["-c", `ulimit -n ${limit} && exec "$0" "$@"`, process.execPath, "run", MAIN, "serve", "--port", "0", "--host", "127.0.0.1", "--data", data, "--log-level", "warn", "--metrics-token", TOKEN, ...extra],
    { bin: "sh" },
  );
  afterAll(() => void nod.proc.kill());
  const url = (await nod.waitForOutput(/listening on (http:\/\/\S+)/))[1]!;
  return { nod, server: { url } };
}

/**
 * An authenticated agent socket that outlives the test that opened it
 * (connectAgent's sockets close when that test ends). nod is killed at the end.
 */
async function lastingSocket(server: { url: string }, agent: { id: string; secret: string }) {
  const s = new FrameSocket(new WebSocket(`${server.url.replace(/^http/, "ws")}/ws/agent/${agent.id}`));
  await s.opened;
  s.send({ type: "auth", agent_id: agent.id, secret: agent.secret });
  await Promise.race([s.waitFor("auth_ok"), s.closed.then((c) => Promise.reject(new Error(`closed during auth: ${c.code}`)))]);
  return s;
}

/** GET over a new connection (fetch would reuse one of its kept-alive connections); the status, or null when closed without one. */
async function freshGet(url: string, path: string): Promise<{ status: number; body: string } | null> {
  const u = new URL(url);
  let text = "";
  const { promise, resolve } = Promise.withResolvers<void>();
  const sock = await Bun.connect({
    hostname: u.hostname,
    port: Number(u.port),
    socket: { data: (_s, d) => void (text += d.toString()), close: () => resolve(), error: () => resolve() },
  });
  sock.write(`GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`);
  await promise;
  const m = /^HTTP\/1\.1 (\d{3})[^]*?\r\n\r\n([^]*)$/.exec(text);
  return m ? { status: Number(m[1]), body: m[2]! } : null;
}

/** One kept-alive HTTP connection, opened while descriptors are free, for requests once they are not. */
async function keptConnection(url: string) {
  const u = new URL(url);
  let text = "";
  let waiting: ((t: string) => void) | null = null;
  const check = () => {
    const m = /\r\n\r\n/.exec(text);
    const len = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? 0);
    if (m && waiting && text.length >= m.index + 4 + len) {
      const got = text;
      text = "";
      waiting(got);
      waiting = null;
    }
  };
  const sock = await Bun.connect({ hostname: u.hostname, port: Number(u.port), socket: { data: (_s, d) => ((text += d.toString()), check()) } });
  afterAll(() => void sock.end());
  return (method: string, path: string, headers: Record<string, string> = {}, body = ""): Promise<string> =>
    new Promise((resolve) => {
      waiting = resolve;
      const head = Object.entries({ host: u.host, "content-length": String(Buffer.byteLength(body)), ...headers }).map(([k, v]) => `${k}: ${v}\r\n`).join("");
      sock.write(`${method} ${path} HTTP/1.1\r\n${head}\r\n${body}`);
    });
}

const upgrade = (url: string, path: string) =>
  fetch(url + path, { headers: { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" } });

async function metric(url: string, line: RegExp) {
  const text = await (await fetch(url + "/metrics", { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  return Number(line.exec(text)?.[1] ?? 0);
}

describe(`nod under ulimit -n ${LIMIT}`, async () => {
  // 64 of the 200 kept back (the default would be 32): inbox sockets still get in
  // up to 32 below the limit, a margin wide enough for the descriptors this
  // test's own HTTP requests and nod's database connections hold meanwhile.
  const { nod, server } = await startLimited(LIMIT, ["--fd-headroom", "64"]);
  const person = await owner(server);
  const first = await person.createAgent({ name: "First" });
  const crowd = await person.createAgent({ name: "Crowd" });
  const early = await connectAgent(server, first);
  const open: FrameSocket[] = [];

  test("agent sockets past the limit are refused with 503 JSON and Retry-After", async () => {
    let refusedAt = -1;
    for (let i = 0; i < LIMIT * 2; i++) {
      try {
        open.push(await lastingSocket(server, crowd));
      } catch {
        refusedAt = i;
        break;
      }
    }
    expect(refusedAt).toBeGreaterThan(10); // some got in…
    expect(refusedAt).toBeLessThan(LIMIT); // …and the rest were refused before the limit
    const res = await upgrade(server.url, `/ws/agent/${crowd.id}`);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect((await res.json()).detail).toMatch(/busy/);
    expect(await metric(server.url, /^nod_sockets_refused_total\{reason="fd_limit",socket="agent"\} (\d+)$/m)).toBeGreaterThanOrEqual(2);
    expect(nod.proc.exitCode).toBeNull();
  });

  test("/healthz still answers 200", async () => {
    const res = await request(server.url, "GET", "/healthz");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ok" });
  });

  test("sockets already open still get events and can send them", async () => {
    await person.post(`/api/agents/${first.id}/messages`, { text: "still there?" });
    expect((await early.waitFor("user_message", 10_000)).text).toBe("still there?");
    await person.post(`/api/agents/${crowd.id}/messages`, { text: "and you?" });
    expect((await open.at(-1)!.waitFor("user_message", 10_000)).text).toBe("and you?");
    const ack = await open[0]!.request({ type: "message", text: "yes" }, 10_000);
    expect(ack.type).toBe("ack");
  });

  test("a person can still open the inbox", async () => {
    const inbox = await connectInbox(server, person);
    expect(inbox.hello.online).toContain(first.id);
    inbox.close();
  });

  test("once sockets close, new ones are let in again", async () => {
    for (const s of open.splice(0, 30)) await s.close();
    const back = await eventually(async () => {
      try {
        return await lastingSocket(server, crowd);
      } catch {
        return null;
      }
    }, 20_000, "an agent socket accepted again");
    expect(back.frames[0]!.type).toBe("auth_ok");
  });
});

describe("out of descriptors anyway (idle connections fill the limit)", async () => {
  const { nod, server } = await startLimited(LIMIT, ["--webhook-retry-base", "1s"]);
  const person = await owner(server);
  const agent = await person.createAgent({ name: "Held" });
  const hook = await webhookReceiver();
  const hooked = await person.createAgent({ name: "Hooked", webhook_url: hook.url });
  const held = await lastingSocket(server, agent);
  const kept = await keptConnection(server.url);
  expect(await kept("GET", "/healthz")).toStartWith("HTTP/1.1 200");
  const port = Number(new URL(server.url).port);
  const conns: Bun.Socket[] = [];
  let trickle: ReturnType<typeof setInterval> | null = null;
  afterAll(() => {
    if (trickle) clearInterval(trickle);
    for (const c of conns) c.end();
  });

  test("new connections get a 503 instead of hanging; a webhook due then is delivered later; nod recovers", async () => {
    // Plain TCP connections that send half a request header and a byte now and then: Bun keeps them all.
    for (let i = 0; i < LIMIT + 50; i++) {
      conns.push(await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {}, error() {} } }));
      conns.at(-1)!.write("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    }
    trickle = setInterval(() => {
      for (const c of conns) c.write("X: y\r\n");
    }, 1000);
    const res = await freshGet(server.url, "/healthz");
    expect(res?.status).toBe(503);
    expect(JSON.parse(res!.body).detail).toMatch(/busy/);
    // The socket that was open before keeps working at the limit.
    held.send({ type: "ping", request_id: "at-the-limit" });
    expect((await held.waitFor((f) => f.request_id === "at-the-limit", 10_000)).type).toBe("pong");
    // A person's message (over a connection opened before) makes nod call a webhook with no descriptor left.
    const sent = await kept("POST", `/api/agents/${hooked.id}/messages`, { cookie: person.cookie, "content-type": "application/json" }, JSON.stringify({ text: "at the limit" }));
    expect(sent).toStartWith("HTTP/1.1 201");
    held.send({ type: "ping", request_id: "after-the-webhook" });
    expect((await held.waitFor((f) => f.request_id === "after-the-webhook", 10_000)).type).toBe("pong");
    expect(nod.proc.exitCode).toBeNull();

    clearInterval(trickle);
    for (const c of conns.splice(0)) c.end();
    await eventually(async () => (await freshGet(server.url, "/healthz"))?.status === 200, 20_000, "/healthz 200 again");
    const [delivered] = await hook.waitFor(1, 30_000);
    expect(delivered!.json).toMatchObject({ type: "user_message", text: "at the limit" });
    expect(await metric(server.url, /^nod_connections_shed_total (\d+)$/m)).toBeGreaterThan(0);
    expect(nod.proc.exitCode).toBeNull();
  });
});

test("--fd-headroom must be a whole number", async () => {
  const r = await spawnNod(["serve", "--fd-headroom", "lots", "--data", tempDir()]).done;
  expect(r.exitCode).toBe(2);
  expect(r.stderr).toContain("--fd-headroom: not a whole number: lots");
});
