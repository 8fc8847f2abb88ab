// A call to a task's webhook (POST /webhook/:trigger_id, trigger.ts): the
// event task gets a due run, and its agent task_trigger with the payload.
import { eq } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import type { Db } from "../db/index.ts";
import { first } from "../db/rows.ts";
import { tasks } from "../db/tables.ts";
import { conflict, notFound } from "../lib/errors.ts";
import type { Static } from "elysia";
import type { TriggerAccepted } from "./model.ts";
import { insertRun } from "./run-create.ts";
import { countTriggerCall } from "./trigger-rate.ts";

/** The event task behind a trigger, or 404 (unknown) / 409 (disabled). */
async function triggeredTask(db: Db, triggerId: string) {
  const t = first(await db.select().from(tasks).where(eq(tasks.triggerId, triggerId)));
  if (!t || t.triggerType !== "event") throw notFound("trigger");
  if (!t.enabled) throw conflict("this task is disabled");
  return t;
}

/**
 * The payload is read (`payload()`) only once the call is accepted: an unknown
 * trigger, a disabled task or a call over the limit costs no parsing.
 */
export async function receiveTrigger(ctx: Ctx, triggerId: string, payload: () => unknown): Promise<Static<typeof TriggerAccepted>> {
  if (!/^[0-9a-f]{64}$/.test(triggerId)) throw notFound("trigger");
  await triggeredTask(ctx.db, triggerId);
  const nowMs = ctx.now();
  countTriggerCall(ctx, triggerId, nowMs);
  const body = payload();
  // Looked up again in the unit that adds the run: a task deleted, disabled or changed
  // since is answered as such, not given a run.
  const run = await ctx.writer.now(async (uow) => insertRun(uow, await triggeredTask(uow.db, triggerId), "event", nowMs, body));
  ctx.metrics.inc("nod_task_runs_created_total", "Task runs created, by trigger", { trigger: "event" });
  return { status: "accepted", run_id: run.id };
}
