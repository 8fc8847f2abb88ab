// GET /healthz: 200 {"status":"ok"} while the server can use its database,
// else 503 {"detail":"database: …"}, so a load balancer or an orchestrator
// takes a broken instance out instead of sending it people and agents.
//
// Two cheap checks, on every call (no file descriptor needed: /healthz must
// answer at the open-file limit too):
// - a read through a statement compiled once, which fails once the database
//   cannot be read (closed, an I/O error, a file that is not a database);
// - that nod.db is still the file nod opened. A file deleted or replaced
//   under a running server still takes every write, into a file no one will
//   open again: a restart would find none of it.
import { Elysia, t } from "elysia";
import { statSync, type Stats } from "node:fs";
import path from "node:path";
import type { Ctx } from "../context.ts";
import { DB_FILE } from "../db/index.ts";
import { HttpError } from "../lib/errors.ts";
import { doc, errors, models, PUBLIC } from "../lib/schemas.ts";

const Health = t.Object({ status: t.Literal("ok") });

/** What is wrong with the database, or null when it answers. */
export type DatabaseCheck = () => string | null;

export function databaseCheck(ctx: Ctx): DatabaseCheck {
  const file = path.join(ctx.config.dataDir, DB_FILE);
  const opened = statSync(file); // just after openDb: the file nod holds
  const sqlite = ctx.db.$client;
  return () => {
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
    () => {
      const problem = check();
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
