// Delivery while an outcome's COMMIT has not landed yet. The delivered marks
// (over the webhook, over a socket) are written through the writer, and a read
// of the queue can be answered with the database as it was before a commit (on
// PostgreSQL a read and a commit run on different connections). Until the mark
// commits, its event is still pending in the database: nothing may hand it out
// a second time meanwhile. Each test holds a unit (or a read's answer) at the
// point where it used to slip, then lets it go and checks what the agent got.
import { expect, setDefaultTimeout, test } from "bun:test";
import { prepared } from "../server/db/prepared.ts";
import { eventually, owner, startTestServer, type Person, type TestServer } from "./helpers.ts";
import { connectAgent, webhookReceiver } from "./ws-helpers.ts";

setDefaultTimeout(20_000); // each test starts a server: a hang guard

/**
 * Holds back one unit of the server's writer: the first call of
 * writer[method] after arm() starts only at release(), so it has not
 * committed until then. `held` is that unit's promise once it was called.
 */
function holdUnit(s: TestServer, method: "now" | "soon") {
  const writer = s.ctx.writer as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const own = writer[method]!.bind(writer);
  let armed = false;
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const h = {
    held: undefined as Promise<unknown> | undefined,
    arm: () => void (armed = true),
    release: () => open(),
    /** Lets it go and gives the writer its own method back. */
    restore: () => {
      open();
      delete writer[method];
    },
  };
  writer[method] = (...args) => {
    if (!armed) return own(...args);
    armed = false;
    return (h.held = gate.then(() => own(...args)));
  };
  return h;
}

/**
 * Holds the answer of the next read of an agent's pending events (a socket's
 * round): the query runs at once, its rows come back only at answer(), as a
 * read that began before a commit and answers after it.
 */
function holdRead(s: TestServer) {
  type Reads = { undelivered: { execute: (p: { status: string }) => Promise<unknown> } };
  const reads = prepared(s.ctx.db, "delivery.outbox", () => {
    throw new Error("the delivery statements are not prepared yet");
  }) as Reads;
  const own = reads.undelivered.execute.bind(reads.undelivered);
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const h = {
    held: false,
    answer: () => open(),
    restore: () => {
      open();
      delete (reads.undelivered as { execute?: unknown }).execute;
    },
  };
  reads.undelivered.execute = async (params) => {
    const rows = await own(params);
    if (params.status !== "pending" || h.held) return rows;
    h.held = true;
    await gate;
    return rows;
  };
  return h;
}

/** A server of its own (nothing else there starts a unit meanwhile), its owner, and an agent with a webhook. */
async function setup() {
  const s = await startTestServer();
  const p = await owner(s);
  const hook = await webhookReceiver();
  const created = await p.createAgent({ name: "Hooked", webhook_url: hook.url });
  return { s, p, hook, created };
}

const say = (p: Person, agentId: string, text: string) => p.post(`/api/agents/${agentId}/messages`, { text });

/** After a unit's promise settles, the rest of its caller (what follows the await) has run too. */
const settled = async (p: Promise<unknown> | undefined) => {
  await p;
  await new Promise((r) => setImmediate(r));
};

test("an event the webhook took is not handed to a socket that connects before the webhook's mark commits", async () => {
  const { s, p, hook, created } = await setup();
  const mark = holdUnit(s, "now"); // the first unit once the receiver has the event: "delivered by webhook"
  try {
    hook.responses.push(() => {
      mark.arm();
      return new Response("ok");
    });
    await say(p, created.id, "taken by the webhook");
    await hook.waitFor(1);
    await eventually(() => mark.held !== undefined, undefined, "the webhook's mark");
    const a = await connectAgent(s, created); // the row is still pending in the database
    mark.release();
    await say(p, created.id, "after it");
    // the first event the socket gets is the new one: the webhook's was not sent again
    expect((await a.waitFor("user_message")).text).toBe("after it");
    await a.close();
  } finally {
    mark.restore();
  }
  expect(hook.received.map((r) => r.json.text)).toEqual(["taken by the webhook"]);
});

test("a socket's read that answers after the webhook's mark committed does not hand that event out again", async () => {
  const { s, p, hook, created } = await setup();
  const mark = holdUnit(s, "now");
  let read: ReturnType<typeof holdRead> | undefined;
  try {
    hook.responses.push(() => {
      mark.arm();
      return new Response("ok");
    });
    await say(p, created.id, "taken by the webhook");
    await hook.waitFor(1);
    await eventually(() => mark.held !== undefined, undefined, "the webhook's mark");
    read = holdRead(s);
    const a = await connectAgent(s, created);
    await eventually(() => read!.held, undefined, "the socket's read");
    mark.release();
    await settled(mark.held); // committed: the webhook's attempt is over
    read.answer(); // with the row as it was before that commit: pending
    await say(p, created.id, "after it");
    expect((await a.waitFor("user_message")).text).toBe("after it");
    await a.close();
  } finally {
    mark.restore();
    read?.restore();
  }
  expect(hook.received.map((r) => r.json.text)).toEqual(["taken by the webhook"]);
});

test("an event on a socket that closes cleanly before its mark commits is not sent to the webhook as well", async () => {
  const { s, p, hook, created } = await setup();
  const b = await connectAgent(s, created);
  const mark = holdUnit(s, "soon"); // the socket's delivered marks are the only units written with soon()
  mark.arm();
  try {
    await say(p, created.id, "to the socket");
    expect((await b.waitFor("user_message")).text).toBe("to the socket");
    await eventually(() => mark.held !== undefined, undefined, "the socket's mark");
    await b.close();
    // The agent is offline: the next event is the webhook's; the one the socket took is not.
    await say(p, created.id, "to the webhook");
    await hook.expectNone(300); // the webhook's turn waits for the mark meanwhile
    mark.release();
    const [r] = await hook.waitFor(1);
    expect(r!.json.text).toBe("to the webhook");
  } finally {
    mark.restore();
  }
});

test("a newer socket's read that answers after another socket's mark committed does not hand that event out again", async () => {
  const { s, p, hook, created } = await setup();
  const a = await connectAgent(s, created);
  const mark = holdUnit(s, "soon");
  mark.arm();
  let read: ReturnType<typeof holdRead> | undefined;
  try {
    await say(p, created.id, "to the first socket");
    expect((await a.waitFor("user_message")).text).toBe("to the first socket");
    await eventually(() => mark.held !== undefined, undefined, "the first socket's mark");
    read = holdRead(s);
    const b = await connectAgent(s, created); // the newest socket: deliveries go to it
    await eventually(() => read!.held, undefined, "the second socket's read");
    mark.release();
    await settled(mark.held);
    read.answer(); // with the row as it was before the mark's commit: pending
    await say(p, created.id, "to the second socket");
    expect((await b.waitFor("user_message")).text).toBe("to the second socket");
    await a.close();
    await b.close();
  } finally {
    mark.restore();
    read?.restore();
  }
  expect(hook.received).toEqual([]);
});
