// The one door for events that must reach an agent. Callers write the event
// inside the same transaction as the change that caused it, then call
// ctx.delivery.wake(agentId) after the commit so the dispatcher pushes it.
import { timeId } from "../lib/ids.ts";
import { isoMs } from "../lib/time.ts";
import { outbox } from "../db/schema.ts";
import type { Db } from "../db/index.ts";

export type AgentEventType = "user_message" | "decision_resolved" | "task_due" | "task_trigger";
type Tx = Pick<Db, "insert">;

/** Writes an outbox row; returns the event id (evt_…) carried as event_id and X-Nod-Event-Id. */
export function enqueueAgentEvent(tx: Tx, agentId: string, type: AgentEventType, body: Record<string, unknown>): string {
  const id = timeId("evt_");
  const now = isoMs();
  const payload = JSON.stringify({ type, event_id: id, ...body });
  tx.insert(outbox)
    .values({ id, agentId, type, payload, status: "pending", nextAttemptAt: now, createdAt: now })
    .run();
  return id;
}
