// GET /healthz: 200 {"status":"ok"} while the server can use its database,
// else 503 {"detail":"database: …"}, so a load balancer or an orchestrator
// takes a broken instance out instead of sending it people and agents.
//
// On SQLite, two cheap checks, on every call (no file descriptor needed:
// /healthz must answer at the open-file limit too):
// - a read through a statement compiled once, which fails once the database
//   cannot be read (closed, an I/O error, a file that is not a database);
// - that nod.db is still the file nod opened. A file deleted or replaced
//   under a running server still takes every write, into a file no one will
//   open again: a restart would find none of it.
// On PostgreSQL, a `SELECT 1` through the pool, which fails when the server
// is down or refuses nod, and is given PG_CHECK_MS to answer.
import { Elysia, t } from "elysia";
import { statSync, type Stats } from "node:fs";
import path from "node:path";
import type { Ctx } from "../context.ts";
import { sql } from "drizzle-orm";
import { DB_FILE } from "../db/index.ts";
import { asPg } from "../db/pg-writer.ts";
import { dialect } from "../db/tables.ts";
import { HttpError } from "../lib/errors.ts";
import { doc, errors, models, PUBLIC } from "../lib/schemas.ts";

const Health = t.Object({ status: t.Literal("ok") });

/** What is wrong with the database, or null when it answers. */
export type DatabaseCheck = () => Promise<string | null>;

/** How long PostgreSQL has to answer the check: a load balancer polls every few seconds. */
export const PG_CHECK_MS = 5_000;

export function databaseCheck(ctx: Pick<Ctx, "config" | "db">): DatabaseCheck {
  return dialect === "pg" ? pgCheck(ctx) : sqliteCheck(ctx);
}

function pgCheck(ctx: Pick<Ctx, "db">): DatabaseCheck {
  return async () => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`no answer within ${PG_CHECK_MS / 1000} s`), PG_CHECK_MS)));
    const answer = asPg(ctx.db)
      .execute(sql`SELECT 1`)
      .then(
        () => null,
        (e: Error) => `cannot query PostgreSQL: ${(e.cause as Error | undefined)?.message ?? e.message}`,
      );
    try {
      return await Promise.race([answer, late]);
    } finally {
      clearTimeout(timer);
    }
  };
}

function sqliteCheck(ctx: Pick<Ctx, "config" | "db">): DatabaseCheck {
  const file = path.join(ctx.config.dataDir, DB_FILE);
  const opened = statSync(file); // just after openDb: the file nod holds
  const sqlite = ctx.db.$client;
  return async () => {
    try {
      // query() keeps the compiled statement on the connection, and refuses a closed one.
      sqlite.query("SELECT count(*) FROM sqlite_master").get();
    } catch (e) {
      return `cannot read ${DB_FILE}: ${(e as Error).message}`;
    }
    let now: Stats | undefined;
    try {
      now = statSync(file, { throwIfNoEntry: false });
    } catch (e) {
      return `cannot reach ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
    }
    if (!now) return `${file} is gone: what nod writes now is lost when it restarts`;
    if (now.ino !== opened.ino || now.dev !== opened.dev) return `${file} was replaced while nod ran: restart nod to use it`;
    return null;
  };
}

export function healthRoutes(ctx: Ctx) {
  const check = databaseCheck(ctx);
  let reported: string | null = null; // logged when it changes, not on every poll
  return new Elysia({ detail: PUBLIC }).use(models).get(
    "/healthz",
    async () => {
      const problem = await check();
      if (problem !== reported) {
        if (problem) ctx.log.error("health check: the database is unavailable", { problem });
        else ctx.log.info("health check: the database answers again");
        reported = problem;
      }
      if (problem) throw new HttpError(503, `database: ${problem}`);
      return { status: "ok" as const };
    },
    {
      response: { 200: Health, ...errors(503) },
      ...doc("The server is up and its database answers", "503 with the problem in detail when the database cannot be used."),
    },
  );
}
