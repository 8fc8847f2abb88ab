// A request that writes a row referring to one another request deleted
// meanwhile (an agent deleted while a task is created for it) fails on a
// foreign key. On either store that error is recognised, and the HTTP layer
// answers 409 instead of a 500 (server/http.ts).
import { describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { isForeignKeyViolation } from "../server/db/errors.ts";
import { tasks } from "../server/db/tables.ts";
import { deleteAgent, getAgent } from "../server/agents/service.ts";
import { createTask } from "../server/tasks/service.ts";
import { startTestServer, withAgent } from "./helpers.ts";

describe("a write that refers to a row deleted meanwhile", async () => {
  const server = await startTestServer();
  const { created } = await withAgent(server, { name: "Gone soon" });

  test("creating a task for an agent deleted after it was read fails on the foreign key, which is recognised; nothing is written", async () => {
    const agent = await getAgent(server.ctx.db, created.id); // read before the delete, as a request that is under way has
    await deleteAgent(server.ctx, created.id);
    const error = await createTask(server.ctx, agent, { name: "Orphan", prompt: "p", schedule: "0 9 * * *" }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isForeignKeyViolation(error)).toBe(true);
    expect(await server.ctx.db.select().from(tasks).where(eq(tasks.agentId, created.id))).toEqual([]);
  });

  test("other errors are not taken for one", () => {
    expect(isForeignKeyViolation(new Error("FOREIGN KEY constraint failed"))).toBe(false);
    expect(isForeignKeyViolation({ cause: { errno: "23505" } })).toBe(false);
    expect(isForeignKeyViolation({ cause: { errno: "23503" } })).toBe(true);
  });
});
