// What agents send: one function per event type. REST (POST /api/agent/events)
// and the agent WebSocket both come through handleAgentEvent, so an event
// behaves the same whichever way it arrives.
import { eq, sql } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import type { Db } from "../db/index.ts";
import { conversations, taskRuns } from "../db/tables.ts";
import { hotRead } from "../db/prepared.ts";
import { first } from "../db/rows.ts";
import { isoMs } from "../lib/time.ts";
import { Validator } from "../lib/validate.ts";
import { badRequest, forbidden, notFound } from "../lib/errors.ts";
import type { Agent } from "../agents/service.ts";
import { insertMessage, resolveConversation } from "../conversations/service.ts";
import { insertDecision } from "../decisions/service.ts";
import { cancelDecision } from "../decisions/cancel.ts";
import { preview, recordActivity } from "../activity/service.ts";
import { notifyPeople } from "../push/notices.ts";
import { storeImage } from "../media/service.ts";
import { HEARTBEAT_TTL_MS, REST_PROCESSING_TTL_MS } from "../conversations/processing.ts";
import * as M from "./model.ts";

/** What an event is answered with: the REST body, and over the socket the ack's fields. */
export type Reply = M.EventReply | { status: "cancelled"; decision_id: string };

const V = {
  message: new Validator(M.MessageEvent),
  decision: new Validator(M.DecisionEvent),
  alert: new Validator(M.AlertEvent),
  processing_start: new Validator(M.ProcessingStartEvent),
  processing_stop: new Validator(M.ProcessingStopEvent),
  task_proposal: new Validator(M.TaskProposalEvent),
  agent_heartbeat: new Validator(M.HeartbeatFrame),
  agent_idle: new Validator(M.IdleFrame),
  status: new Validator(M.StatusFrame),
  decision_cancel: new Validator(M.DecisionCancelFrame),
};

export const REST_EVENT_TYPES = ["message", "decision", "alert", "processing_start", "processing_stop", "task_proposal"] as const;
export const WS_EVENT_TYPES = [...REST_EVENT_TYPES, "agent_heartbeat", "agent_idle", "status", "decision_cancel"] as const;
type EventType = (typeof WS_EVENT_TYPES)[number];

/** Validates and handles one event; `allowed` is the set the channel accepts. */
export async function handleAgentEvent(ctx: Ctx, agent: Agent, body: unknown, allowed: readonly string[] = REST_EVENT_TYPES): Promise<Reply> {
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw badRequest("body: expected a JSON object");
  const type = (body as { type?: unknown }).type;
  if (type === undefined) throw badRequest("type: required");
  if (typeof type !== "string" || !allowed.includes(type))
    throw badRequest(`type: unknown event type ${JSON.stringify(type)} (expected one of ${allowed.join(", ")})`);
  ctx.metrics.inc("nod_events_received_total", "Events received from agents, by type", { type });
  switch (type as EventType) {
    case "message": return sendMessage(ctx, agent, V.message.parse(body));
    case "decision": return createDecision(ctx, agent, V.decision.parse(body));
    case "alert": return logAlert(ctx, agent, V.alert.parse(body));
    case "processing_start": return processingStart(ctx, agent, V.processing_start.parse(body));
    case "processing_stop": return processingStop(ctx, agent, V.processing_stop.parse(body));
    case "task_proposal": return proposeTask(ctx, agent, V.task_proposal.parse(body));
    case "agent_heartbeat": return heartbeat(ctx, agent, V.agent_heartbeat.parse(body));
    case "agent_idle": return idle(ctx, agent, V.agent_idle.parse(body));
    case "status": return lifecycleStatus(ctx, agent, V.status.parse(body));
    case "decision_cancel": return cancelDecision(ctx, agent, V.decision_cancel.parse(body).decision_id);
  }
}

// Events whose handler goes straight to the group commit (ctx.writer.run) with
// nothing asynchronous before it: started in the order they arrive, they are
// written in that order, so a socket may start the next one without waiting.
const STRAIGHT_TO_COMMIT = new Set(["message", "decision", "alert", "status", "task_proposal"]);

/** Whether this event may start while the ones before it wait for their commit (a message's image is stored first: it may not). */
export const joinsGroupCommit = (body: Record<string, unknown>) => STRAIGHT_TO_COMMIT.has(body.type as string) && !(body.type === "message" && body.image_base64);

const runOwner = (db: Db) =>
  hotRead(db, "events.runOwner", (db) => db.select({ agentId: taskRuns.agentId }).from(taskRuns).where(eq(taskRuns.id, sql.placeholder("id"))));

/**
 * A task_run_id an agent names must be one of its own runs. Checked inside the
 * event's unit of work (db = uow.db): events that join the group commit are
 * written in the order they arrive, so nothing may be awaited before it.
 */
async function checkRun(db: Db, agent: Agent, runId: string | null | undefined) {
  if (!runId) return null;
  const run = first(await runOwner(db).execute({ id: runId }));
  if (!run || run.agentId !== agent.id) throw notFound("task run");
  return runId;
}

const conversationOwner = (db: Db) =>
  hotRead(db, "events.conversationOwner", (db) =>
    db.select({ agentId: conversations.agentId }).from(conversations).where(eq(conversations.id, sql.placeholder("id"))),
  );

/**
 * A conversation_id an indicator event names must be one of the agent's own
 * (else 404, as for every foreign id). Heartbeats come every second: one
 * prepared primary-key lookup, nothing written.
 */
async function checkConversation(ctx: Ctx, agent: Agent, conversationId: string | null | undefined): Promise<string | null> {
  if (!conversationId) return null;
  const c = first(await conversationOwner(ctx.db).execute({ id: conversationId }));
  if (!c || c.agentId !== agent.id) throw notFound("conversation");
  return conversationId;
}

export async function sendMessage(ctx: Ctx, agent: Agent, e: M.MessageEvent): Promise<Reply> {
  if (agent.type === "approval_only") throw forbidden("approval-only agents cannot send messages");
  const text = e.text ?? "";
  if (!text && !e.image_base64) throw badRequest("text: required unless image_base64 is given");
  // The image is written before the transaction: a failed insert leaves an unreferenced file, never a broken link.
  // (Its run is checked first, so a wrong task_run_id stores no image.)
  if (e.image_base64) await checkRun(ctx.db, agent, e.task_run_id);
  const imageUrl = e.image_base64 ? await storeImage(ctx, e.image_base64) : null;
  return ctx.writer.run(async (uow) => {
    const taskRunId = await checkRun(uow.db, agent, e.task_run_id);
    const conversation = await resolveConversation(uow, agent, e.conversation_id);
    const message = await insertMessage(uow, {
      agentId: agent.id,
      conversationId: conversation.id,
      role: taskRunId && !e.report_title ? "task" : "agent",
      text,
      imageUrl,
      reportTitle: e.report_title,
      reportDescription: e.report_description,
      taskRunId,
    });
    const said = preview(e.report_title ? `${e.report_title}${e.report_description ? ` — ${e.report_description}` : ""}` : text) ?? (imageUrl ? "(an image)" : null);
    await recordActivity(uow, agent.id, "agent_message", `${agent.name} sent a message`, said, taskRunId, { refId: message.id });
    await notifyPeople(uow, { kind: "message", message });
    return { status: "ok", message_id: message.id, conversation_id: conversation.id };
  });
}

export async function createDecision(ctx: Ctx, agent: Agent, e: M.DecisionEvent): Promise<Reply> {
  return ctx.writer.run(async (uow) => {
    const taskRunId = await checkRun(uow.db, agent, e.task_run_id);
    const conversationId = e.conversation_id ? (await resolveConversation(uow, agent, e.conversation_id)).id : null;
    const decision = await insertDecision(uow, agent, {
      kind: e.kind,
      title: e.title,
      description: e.description,
      options: e.options,
      conversationId,
      taskRunId,
      allowsAlways: e.kind === "permission" && (e.allows_always ?? Boolean(e.always_allow_options?.length)),
      alwaysAllowLabel: e.always_allow_label,
      alwaysAllowOptions: e.always_allow_options,
      expiresAt: e.expires_in ? isoMs(ctx.now() + e.expires_in * 1000) : null,
    });
    return { status: "ok", decision_id: decision.id };
  });
}

export async function logAlert(ctx: Ctx, agent: Agent, e: M.AlertEvent): Promise<Reply> {
  const act = await ctx.writer.run(async (uow) =>
    recordActivity(uow, agent.id, "agent_action", e.title, e.text ?? null, await checkRun(uow.db, agent, e.task_run_id)),
  );
  ctx.processing.updateText(agent.id, e.title); // while "Thinking…", each alert becomes its text
  return { status: "ok", activity_id: act.id };
}

export async function processingStart(ctx: Ctx, agent: Agent, e: M.ProcessingStartEvent): Promise<Reply> {
  ctx.processing.start(agent.id, await checkConversation(ctx, agent, e.conversation_id), e.status_text || "Thinking", REST_PROCESSING_TTL_MS);
  return { status: "ok" };
}

export async function processingStop(ctx: Ctx, agent: Agent, e: M.ProcessingStopEvent): Promise<Reply> {
  ctx.processing.stop(agent.id, await checkConversation(ctx, agent, e.conversation_id));
  return { status: "ok" };
}

export async function heartbeat(ctx: Ctx, agent: Agent, e: M.HeartbeatFrame): Promise<Reply> {
  ctx.processing.start(agent.id, await checkConversation(ctx, agent, e.conversation_id), e.status_text || "Thinking", HEARTBEAT_TTL_MS);
  return { status: "ok" };
}

export async function idle(ctx: Ctx, agent: Agent, e: M.IdleFrame): Promise<Reply> {
  ctx.processing.stop(agent.id, await checkConversation(ctx, agent, e.conversation_id));
  return { status: "ok" };
}

export async function lifecycleStatus(ctx: Ctx, agent: Agent, e: M.StatusFrame): Promise<Reply> {
  const details = e.details === undefined || e.details === null ? null : typeof e.details === "string" ? e.details : JSON.stringify(e.details);
  const act = await ctx.writer.run(async (uow) => recordActivity(uow, agent.id, "system", `${agent.name}: ${e.action}`, details));
  return { status: "ok", activity_id: act.id };
}

export async function proposeTask(ctx: Ctx, agent: Agent, e: M.TaskProposalEvent): Promise<Reply> {
  return ctx.writer.run(async (uow) => {
    const conversationId = e.conversation_id ? (await resolveConversation(uow, agent, e.conversation_id)).id : null;
    const tz = e.timezone ? ` (${e.timezone})` : "";
    const decision = await insertDecision(uow, agent, {
      kind: "approval",
      title: e.title,
      description: e.description ?? `Task "${e.task_name}" on schedule ${e.task_schedule}${tz}:\n\n${e.task_prompt}`,
      conversationId,
      proposal: { task_name: e.task_name, task_prompt: e.task_prompt, task_schedule: e.task_schedule, ...(e.timezone ? { timezone: e.timezone } : {}) },
    });
    return { status: "ok", decision_id: decision.id };
  });
}
