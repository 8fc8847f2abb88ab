// The hot path's statements on SQLite (docs/scale.md, "The async store seam":
// what the async services cost SQLite, and what won it back): the writes every
// event runs go through hotWrite, which binds what drizzle would, and its
// reads through hotRead, which gives the rows drizzle would, on either store; a message event compiles no SQL, and none of its statements binds a
// LIMIT (SQLite would compile such a statement again on every run).
import { Database } from "bun:sqlite";
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { and, eq, sql } from "drizzle-orm";
import { pushSettings, users } from "../server/db/tables.ts";
import { hotRead, hotWrite } from "../server/db/prepared.ts";
import { isForeignKeyViolation } from "../server/db/errors.ts";
import { first, only } from "../server/db/rows.ts";
import { handleAgentEvent, WS_EVENT_TYPES } from "../server/events/service.ts";
import { knownAgent } from "../server/agents/service.ts";
import { owner, startTestServer } from "./helpers.ts";
import { describeSqlite } from "./pg-helpers.ts";

setDefaultTimeout(20_000); // a hang guard

describe("hotWrite", async () => {
  const server = await startTestServer();
  await owner(server);
  const { ctx } = server;
  const userId = only(await ctx.db.select({ id: users.id }).from(users)).id;
  // A write with a boolean and a JSON column: their values go through the columns' encoders, as drizzle's own would.
  const upsert = (db: Parameters<typeof hotWrite>[0]) =>
    hotWrite(db, "test.pushSettings", (db) =>
      db
        .insert(pushSettings)
        .values({ userId: sql.placeholder("userId"), messages: sql.placeholder("messages"), failedRuns: true, mutedAgents: sql.placeholder("muted"), updatedAt: sql.placeholder("at") })
        .onConflictDoUpdate({ target: pushSettings.userId, set: { messages: sql`excluded.messages`, mutedAgents: sql`excluded.muted_agents` } })
        .prepare(),
    );
  const settings = async () => first(await ctx.db.select().from(pushSettings).where(eq(pushSettings.userId, userId)));

  test("writes the row drizzle would: booleans and JSON columns encoded, a constant in the query kept", async () => {
    await ctx.writer.run(async (uow) => upsert(uow.db).execute({ userId, messages: false, muted: ["agt_a", "agt_b"], at: "2026-01-01T00:00:00.000Z" }));
    expect(await settings()).toEqual({ userId, messages: false, failedRuns: true, mutedAgents: ["agt_a", "agt_b"], updatedAt: "2026-01-01T00:00:00.000Z" });
    await ctx.writer.run(async (uow) => upsert(uow.db).execute({ userId, messages: true, muted: [], at: "2026-01-02T00:00:00.000Z" }));
    expect(await settings()).toMatchObject({ messages: true, mutedAgents: [] });
  });

  test("a write that fails rejects its promise (the unit rolls back); a foreign-key violation is recognised as one", async () => {
    const run = ctx.writer.run(async (uow) => {
      const p = upsert(uow.db).execute({ userId: "usr_nobody", messages: true, muted: [], at: "2026-01-01T00:00:00.000Z" });
      expect(p).toBeInstanceOf(Promise); // not thrown where it is called
      await p;
    });
    const e = await run.then(() => null, (e: unknown) => e);
    expect(isForeignKeyViolation(e)).toBe(true);
    expect(await ctx.db.select().from(pushSettings).where(eq(pushSettings.userId, "usr_nobody"))).toEqual([]);
  });

  test("a placeholder without a value is an error naming it, and nothing is written", async () => {
    const run = ctx.writer.run(async (uow) => upsert(uow.db).execute({ userId, messages: false, at: "2026-01-03T00:00:00.000Z" }));
    expect(await run.then(() => null, (e: Error) => e.message)).toBe('No value for placeholder "muted" was provided');
    expect(await settings()).toMatchObject({ messages: true, mutedAgents: [] });
  });
});

describe("hotRead", async () => {
  const server = await startTestServer();
  await owner(server);
  const { ctx } = server;
  const userId = only(await ctx.db.select({ id: users.id }).from(users)).id;
  await ctx.writer.run(async (uow) => uow.db.insert(pushSettings).values({ userId, messages: false, mutedAgents: ["agt_a"], updatedAt: "2026-01-01T00:00:00.000Z" }));
  // Columns decoded (a boolean, JSON), an SQL expression under its key, a constant and a placeholder in the query.
  const read = () =>
    hotRead(ctx.db, "test.pushSettings", (db) =>
      db
        .select({ user: pushSettings.userId, messages: pushSettings.messages, muted: pushSettings.mutedAgents, failedRuns: pushSettings.failedRuns, n: sql<number>`length(${pushSettings.userId})` })
        .from(pushSettings)
        .where(and(eq(pushSettings.userId, sql.placeholder("id")), eq(pushSettings.failedRuns, true))),
    );

  test("gives the rows drizzle's select gives, under the same keys and types", async () => {
    const drizzle = await ctx.db
      .select({ user: pushSettings.userId, messages: pushSettings.messages, muted: pushSettings.mutedAgents, failedRuns: pushSettings.failedRuns, n: sql<number>`length(${pushSettings.userId})` })
      .from(pushSettings)
      .where(eq(pushSettings.userId, userId));
    const rows = await read().execute({ id: userId });
    expect(rows).toEqual([{ user: userId, messages: false, muted: ["agt_a"], failedRuns: true, n: userId.length }]);
    expect(rows).toEqual(drizzle);
    expect(await read().execute({ id: "usr_nobody" })).toEqual([]);
  });

  test("a placeholder without a value is a rejected promise naming it", async () => {
    const p = read().execute({});
    expect(p).toBeInstanceOf(Promise);
    expect(await p.then(() => null, (e: Error) => e.message)).toBe('No value for placeholder "id" was provided');
  });
});

// describeSqlite, not describe.skipIf: a skipped block's body still runs, and would start a server.
describeSqlite("events on SQLite", async () => {
  const server = await startTestServer();
  const person = await owner(server);
  const { ctx } = server;
  const created = await person.createAgent({ name: "Hot" });
  const agent = (await knownAgent(ctx.db, created.id))!;
  const message = { type: "message", text: "Deployed build #42." };

  // Every statement compiled on either connection while fn runs.
  async function compiled(fn: () => Promise<unknown>) {
    const seen: string[] = [];
    const prepare = Database.prototype.prepare;
    Database.prototype.prepare = function (this: Database, query: string, ...rest: unknown[]) {
      seen.push(query);
      return (prepare as (...a: unknown[]) => ReturnType<typeof prepare>).call(this, query, ...rest);
    } as typeof prepare;
    try {
      await fn();
    } finally {
      Database.prototype.prepare = prepare;
    }
    return seen;
  }

  test("a message event: none of its statements binds a LIMIT (each is compiled once, on the first event)", async () => {
    const firstEvent = await compiled(() => handleAgentEvent(ctx, agent, message, WS_EVENT_TYPES));
    expect(firstEvent.filter((q) => /\blimit\s+\?/i.test(q))).toEqual([]);
    expect(await compiled(async () => {
      for (let i = 0; i < 3; i++) await handleAgentEvent(ctx, agent, message, WS_EVENT_TYPES);
    })).toEqual([]);
    const texts = (await person.get(`/api/agents/${created.id}/activity`)).body as { title: string }[];
    expect(texts.filter((a) => a.title === "Hot sent a message")).toHaveLength(4);
  });

  test("nor does the push of a request's outcome (it looks for the devices told of the request)", async () => {
    const ask = async () => ((await handleAgentEvent(ctx, agent, { type: "decision", kind: "approval", title: "Deploy?", description: "To production." }, WS_EVENT_TYPES)) as { decision_id: string }).decision_id;
    const id = await ask();
    let status = 0;
    const answering = await compiled(async () => (status = (await person.post(`/api/decisions/${id}/respond`, { status: "approved" })).status));
    expect(status).toBe(200);
    expect(answering.filter((q) => q.includes('"push_') && /\blimit\s+\?/i.test(q))).toEqual([]);
  });
});
