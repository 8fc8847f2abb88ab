// The writer has its own connection; ctx.db (reads outside units of work) is a
// second one that cannot write and sees only committed transactions. On
// PostgreSQL both are the one pool, whose readers see only committed rows too.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { Person, startTestServer, withAgent } from "./helpers.ts";
import { describeSqlite } from "./pg-helpers.ts";
import { agents } from "../server/db/tables.ts";
import { first } from "../server/db/rows.ts";

setDefaultTimeout(60_000); // a hang guard

describe("the store's two connections", async () => {
  const server = await startTestServer();
  const { person, created, agent } = await withAgent(server, { name: "Deploy Bot" });

  const nameIn = async (db: typeof server.ctx.db) => first(await db.select().from(agents).where(eq(agents.id, created.id)))!.name;

  describeSqlite("SQLite's read connection", () => {
    test("ctx.db refuses a write; the row is unchanged", async () => {
      expect(() => server.ctx.db.update(agents).set({ name: "Renamed" }).where(eq(agents.id, created.id)).run()).toThrow(/readonly/);
      expect(await nameIn(server.ctx.db)).toBe("Deploy Bot");
    });
  });

  test("a unit of work's rows are not seen through ctx.db before its commit, and are after", async () => {
    const seen = await server.ctx.writer.now(async (uow) => {
      await uow.db.update(agents).set({ name: "Inside" }).where(eq(agents.id, created.id));
      return { inside: await nameIn(uow.db), reader: await nameIn(server.ctx.db) };
    });
    expect(seen).toEqual({ inside: "Inside", reader: "Deploy Bot" });
    expect((await person.get(`/api/agents/${created.id}`)).body.name).toBe("Inside");
  });

  test("a new secret drops the agent that reads kept in memory (one cache for both connections): the old secret is refused", async () => {
    expect((await agent.get("/api/agent/tasks")).status).toBe(200); // read once: kept in memory
    expect((await person.post(`/api/agents/${created.id}/secret`)).status).toBe(200);
    expect((await agent.get("/api/agent/tasks")).status).toBe(401);
  });

  test("signing out ends a session that reads kept in memory", async () => {
    const p = new Person(server.url);
    expect((await p.post("/api/auth/login", { username: "alice", password: "correct horse battery" })).status).toBe(200);
    expect((await p.get("/api/auth/status")).body.user.username).toBe("alice");
    expect((await p.post("/api/auth/logout", {})).status).toBeLessThan(300);
    expect((await p.get("/api/auth/status")).body.user).toBeNull();
  });

  describeSqlite("SQLite's files", () => {
    test("stopping closes both connections and leaves nod.db complete on its own (no nod.db-wal)", async () => {
      await server.stop();
      expect(existsSync(path.join(server.dataDir, "nod.db-wal"))).toBe(false);
    });
  });
});
