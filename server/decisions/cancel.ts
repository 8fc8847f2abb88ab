// An agent withdraws its own pending request (nod's addition): REST
// POST /api/agent/decisions/:decision_id/cancel and the WebSocket frame
// {"type":"decision_cancel"}. Any kind, permission included. The inbox shows
// it withdrawn and long-polls answer; the agent itself gets no event (it
// knows already).
import { and, eq } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import type { Agent } from "../agents/service.ts";
import { decisions } from "../db/tables.ts";
import { first } from "../db/rows.ts";
import { isoMs } from "../lib/time.ts";
import { conflict } from "../lib/errors.ts";
import { recordActivity } from "../activity/service.ts";
import { checkAnswerable, getAgentDecision, settle } from "./service.ts";

export async function cancelDecision(ctx: Ctx, agent: Agent, id: string) {
  await ctx.writer.now(async (uow) => {
    const d = await getAgentDecision(uow.db, agent.id, id);
    checkAnswerable(d, ctx.now());
    const updated = first(
      await uow.db
        .update(decisions)
        .set({ status: "cancelled", resolvedBy: "agent", resolvedAt: isoMs(ctx.now()) })
        .where(and(eq(decisions.id, id), eq(decisions.status, "pending")))
        .returning(),
    );
    if (!updated) throw conflict("decision is no longer pending");
    await settle(uow, updated);
    await recordActivity(uow, agent.id, "decision_resolved", `${agent.name} withdrew: ${d.title}`, null, d.taskRunId, { refId: d.id, outcome: "cancelled" });
  });
  return { status: "cancelled" as const, decision_id: id };
}
