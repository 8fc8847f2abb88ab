// A run's context scratchpad: numbered text blocks the agent appends while
// the run is open and reads back, so a run that pauses (for a person's
// decision, say) keeps its state between webhook calls. The blocks are deleted
// when the run finishes (run-progress.ts) or times out (run-timeout.ts).
import { asc, eq, sql } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import { runContext } from "../db/tables.ts";
import { isoMs, toApiTime } from "../lib/time.ts";
import { conflict, tooLarge } from "../lib/errors.ts";
import type { Agent } from "../agents/service.ts";
import type { Static } from "elysia";
import { TASK_LIMITS, type ContextAdded, type RunContext } from "./model.ts";
import { getAgentRun } from "./service.ts";
import { isFinished } from "./run-progress.ts";

export function addContext(ctx: Ctx, agent: Agent, runId: string, text: string): Static<typeof ContextAdded> {
  if (Buffer.byteLength(text, "utf8") > TASK_LIMITS.contextBytes) throw tooLarge(`text: at most ${TASK_LIMITS.contextBytes / 1024} KiB per block`);
  const now = isoMs(ctx.now());
  const blockId = ctx.writer.now(({ db }) => {
    const r = getAgentRun(db, agent.id, runId);
    if (isFinished(r)) throw conflict(`task run already ${r.status}: its context was cleared`);
    const last = db
      .select({ max: sql<number | null>`max(${runContext.blockId})` })
      .from(runContext)
      .where(eq(runContext.runId, r.id))
      .get();
    const blockId = (last?.max ?? 0) + 1;
    db.insert(runContext).values({ runId: r.id, blockId, text, createdAt: now }).run();
    return blockId;
  });
  return { status: "ok", block_id: blockId };
}

export function getContext(ctx: Ctx, agent: Agent, runId: string): Static<typeof RunContext> {
  const r = getAgentRun(ctx.db, agent.id, runId);
  const blocks = ctx.db.select().from(runContext).where(eq(runContext.runId, r.id)).orderBy(asc(runContext.blockId)).all();
  return { run_id: r.id, blocks: blocks.map((b) => ({ id: b.blockId, text: b.text, created_at: toApiTime(b.createdAt) })) };
}
