// People's accounts on either store: a taken username is a 409 whatever the
// database calls the error, and two instances racing to set up the server
// make one owner (on PostgreSQL under an advisory lock; SQLite's writer
// already takes turns).
import { describe, expect, test } from "bun:test";
import { createUser, setupOwner, userCount } from "../server/auth/service.ts";
import { openStore } from "../server/db/store.ts";
import { lockUntilCommit } from "../server/db/locks.ts";
import { eventually, startTestServer } from "./helpers.ts";

describe("accounts in the store", async () => {
  test("a username that is taken: 409 naming it", async () => {
    const server = await startTestServer();
    // createUser writes on the connection it is given, outside a unit of work (nod user add does): the writer's.
    await createUser(server.ctx.writer.db, "alice", "a long password");
    const again = await createUser(server.ctx.writer.db, "alice", "another long password").then(
      () => null,
      (e: { status?: number; detail?: string }) => e,
    );
    expect(again).toMatchObject({ status: 409, detail: "username 'alice' is taken" });
  });

  test("two instances setting the server up at once make one owner; the other is told setup is done", async () => {
    const server = await startTestServer();
    const other = await openStore(server.ctx.config);
    try {
      const results = await Promise.allSettled([
        setupOwner(server.ctx, "first", "a long password"),
        setupOwner({ db: other.db, writer: other.writer }, "second", "a long password"),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
      expect(results.find((r) => r.status === "rejected")).toMatchObject({ reason: { status: 409, detail: "setup is already done" } });
      expect(await userCount(server.ctx.db)).toBe(1);
    } finally {
      await other.close();
    }
  });

  // On SQLite the lock is nothing (BEGIN IMMEDIATE already admits one writer), and a unit held open would hold the database.
  test.skipIf(process.env.NOD_TEST_BACKEND !== "pg")("PostgreSQL: a unit taking a lock another instance's open unit holds waits for that COMMIT", async () => {
    const server = await startTestServer();
    const other = await openStore(server.ctx.config);
    try {
      const order: string[] = [];
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const first = server.ctx.writer.now(async (uow) => {
        await lockUntilCommit(uow.db, "setup");
        order.push("first has the lock");
        await held; // a test's stand-in for a unit still at work
        order.push("first commits");
      });
      await eventually(() => order.length === 1, 10_000, "the first unit to take the lock");
      const second = other.writer.now(async (uow) => {
        await lockUntilCommit(uow.db, "setup");
        order.push("second has the lock");
      });
      await Bun.sleep(300); // room for the second to (wrongly) get in first
      release();
      await Promise.all([first, second]);
      expect(order).toEqual(["first has the lock", "first commits", "second has the lock"]);
    } finally {
      await other.close();
    }
  });
});
