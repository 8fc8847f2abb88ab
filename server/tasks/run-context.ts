// A run's context scratchpad: numbered text blocks the agent appends while
// the run is open and reads back, so a run that pauses (for a person's
// decision, say) keeps its state between webhook calls. The blocks are deleted
// when the run finishes (run-progress.ts) or times out (run-timeout.ts).
import { asc, desc, eq } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import { first } from "../db/rows.ts";
import { runContext } from "../db/tables.ts";
import { isoMs, toApiTime } from "../lib/time.ts";
import { conflict, tooLarge } from "../lib/errors.ts";
import type { Agent } from "../agents/service.ts";
import type { Static } from "elysia";
import { TASK_LIMITS, type ContextAdded, type RunContext } from "./model.ts";
import { getAgentRun } from "./service.ts";
import { isFinished } from "./run-progress.ts";

export async function addContext(ctx: Ctx, agent: Agent, runId: string, text: string): Promise<Static<typeof ContextAdded>> {
  if (Buffer.byteLength(text, "utf8") > TASK_LIMITS.contextBytes) throw tooLarge(`text: at most ${TASK_LIMITS.contextBytes / 1024} KiB per block`);
  const now = isoMs(ctx.now());
  const blockId = await ctx.writer.now(async ({ db }) => {
    const r = await getAgentRun(db, agent.id, runId);
    if (isFinished(r)) throw conflict(`task run already ${r.status}: its context was cleared`);
    // The last block by the (run_id, block_id) index, not max(): no aggregate whose type differs between the stores.
    const last = first(await db.select({ blockId: runContext.blockId }).from(runContext).where(eq(runContext.runId, r.id)).orderBy(desc(runContext.blockId)).limit(1));
    const blockId = (last?.blockId ?? 0) + 1;
    await db.insert(runContext).values({ runId: r.id, blockId, text, createdAt: now });
    return blockId;
  });
  return { status: "ok", block_id: blockId };
}

export async function getContext(ctx: Ctx, agent: Agent, runId: string): Promise<Static<typeof RunContext>> {
  const r = await getAgentRun(ctx.db, agent.id, runId);
  const blocks = await ctx.db.select().from(runContext).where(eq(runContext.runId, r.id)).orderBy(asc(runContext.blockId));
  return { run_id: r.id, blocks: blocks.map((b) => ({ id: b.blockId, text: b.text, created_at: toApiTime(b.createdAt) })) };
}
