// A crash (SIGKILL, no shutdown at all) loses nothing that was acknowledged:
// every event answered 200 is there after a restart, and a webhook delivery
// that was waiting for its retry is still sent.
import { expect, test } from "bun:test";
import { AgentClient, Person, eventually, tempDir } from "./helpers.ts";
import { spawnNod } from "./cli-util.ts";
import { webhookReceiver } from "./ws-helpers.ts";

async function serve(dataDir: string, port = 0) {
  const nod = spawnNod(["serve", "--port", String(port), "--host", "127.0.0.1", "--data", dataDir, "--log-level", "error", "--webhook-retry-base", "1s"]);
  const m = await nod.waitForOutput(/listening on http:\/\/[^:]+:(\d+)/);
  return { nod, port: Number(m[1]), url: `http://127.0.0.1:${m[1]}` };
}

test("SIGKILL under load: every acknowledged event and queued delivery survives", async () => {
  const dir = tempDir();
  const first = await serve(dir);
  const person = new Person(first.url);
  expect((await person.post("/api/auth/setup", { username: "alice", password: "correct horse battery" })).status).toBe(201);
  const hook = await webhookReceiver();
  hook.responses.push(...Array(100).fill(500)); // the webhook refuses for now: the delivery waits for its retry
  const created = await person.createAgent({ name: "Crashy", webhook_url: hook.url });
  const agent = new AgentClient(first.url, created.id, created.secret);
  const queued = await person.post(`/api/agents/${created.id}/messages`, { text: "deliver me after the crash" });
  expect(queued.status).toBe(201);
  await hook.waitFor(1); // its first attempt was made, and refused, before the crash

  // 16 writers send messages back to back; the server is killed while they run.
  const acked: string[] = [];
  let stop = false;
  const writers = Array.from({ length: 16 }, async (_, w) => {
    for (let i = 0; !stop; i++) {
      try {
        const r = await agent.event({ type: "message", text: `w${w} #${i}` });
        if (r.status === 200) acked.push(r.body.message_id);
      } catch {
        return; // connection refused or reset: the server is gone
      }
    }
  });
  await eventually(() => acked.length >= 300, 10_000, "300 acknowledged events");
  first.nod.proc.kill("SIGKILL");
  stop = true;
  await Promise.all(writers);
  await first.nod.done;

  hook.responses.length = 0; // the receiver is healthy again
  const refused = hook.received.length;
  expect(refused).toBeGreaterThan(0);
  const second = await serve(dir, first.port);
  try {
    const conv = queued.body.conversation_id;
    const ids = new Set<string>();
    let before = "";
    for (;;) {
      const page = (await person.get(`/api/conversations/${conv}/messages?limit=200${before ? `&before=${before}` : ""}`)).body as { id: string }[];
      if (page.length === 0) break;
      for (const m of page) ids.add(m.id);
      before = page[0]!.id;
    }
    const missing = acked.filter((id) => !ids.has(id));
    expect({ acked: acked.length, missing }).toEqual({ acked: acked.length, missing: [] });
    // the user_message that was waiting for its retry goes out after the restart
    const delivered = (await hook.waitFor(refused + 1, 15_000)).at(-1)!;
    expect(delivered.json).toMatchObject({ type: "user_message", text: "deliver me after the crash" });
    expect(delivered.headers["x-nod-event-id"]).toBe(hook.received[0]!.headers["x-nod-event-id"]);
  } finally {
    second.nod.proc.kill("SIGTERM");
    await second.nod.done;
    hook.stop();
  }
}, 60_000);
