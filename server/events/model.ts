// The shapes of what agents send, over REST (POST /api/agent/events) and over
// the WebSocket alike. Unknown extra fields are ignored, as clients add their own.
import { Type as T, type Static } from "@sinclair/typebox";

const Id = T.String({ minLength: 1, maxLength: 100 });
const OptId = T.Optional(T.Union([Id, T.Null()]));
const Text = (max: number) => T.String({ maxLength: max });

export const MAX_EXPIRES_IN = 604_800; // a week

export const LIMITS = { text: 100_000, title: 500, description: 20_000, option: 500, options: 50, statusText: 500 };

export const MessageEvent = T.Object({
  type: T.Literal("message"),
  text: T.Optional(T.Union([Text(LIMITS.text), T.Null()])),
  image_base64: T.Optional(T.Union([T.String(), T.Null()])),
  conversation_id: OptId,
  report_title: T.Optional(T.Union([Text(LIMITS.title), T.Null()])),
  report_description: T.Optional(T.Union([Text(LIMITS.description), T.Null()])),
  task_run_id: OptId,
});

export const AlwaysAllowOption = T.Object({ pattern: Text(LIMITS.option), label: Text(LIMITS.option) });

export const DecisionEvent = T.Object({
  type: T.Literal("decision"),
  title: T.String({ minLength: 1, maxLength: LIMITS.title }),
  description: Text(LIMITS.description),
  kind: T.Union([T.Literal("approval"), T.Literal("choice"), T.Literal("question"), T.Literal("permission")], {
    error: "kind: must be one of approval, choice, question, permission",
  }),
  options: T.Optional(T.Union([T.Array(Text(LIMITS.option), { maxItems: LIMITS.options }), T.Null()])),
  conversation_id: OptId,
  task_run_id: OptId,
  allows_always: T.Optional(T.Boolean()),
  always_allow_label: T.Optional(T.Union([Text(LIMITS.option), T.Null()])),
  always_allow_options: T.Optional(T.Union([T.Array(AlwaysAllowOption, { maxItems: LIMITS.options }), T.Null()])),
  // nod's addition: still pending after this many seconds, the request expires (decisions/expiry.ts).
  expires_in: T.Optional(
    T.Union([T.Integer({ minimum: 1, maximum: MAX_EXPIRES_IN }), T.Null()], { error: `expires_in: whole seconds, 1 to ${MAX_EXPIRES_IN}` }),
  ),
});

export const AlertEvent = T.Object({
  type: T.Literal("alert"),
  title: T.String({ minLength: 1, maxLength: LIMITS.title }),
  text: T.Optional(T.Union([Text(LIMITS.description), T.Null()])),
  task_run_id: OptId,
});

export const ProcessingStartEvent = T.Object({
  type: T.Literal("processing_start"),
  conversation_id: OptId,
  status_text: T.Optional(T.Union([Text(LIMITS.statusText), T.Null()])),
});

export const ProcessingStopEvent = T.Object({ type: T.Literal("processing_stop"), conversation_id: OptId });

export const TaskProposalEvent = T.Object({
  type: T.Literal("task_proposal"),
  title: T.String({ minLength: 1, maxLength: LIMITS.title }),
  task_name: T.String({ minLength: 1, maxLength: LIMITS.title }),
  task_prompt: T.String({ minLength: 1, maxLength: LIMITS.description }),
  task_schedule: T.String({ minLength: 1, maxLength: 200 }),
  timezone: T.Optional(T.String({ maxLength: 100 })), // nod's addition: the IANA zone of the schedule
  description: T.Optional(Text(LIMITS.description)),
  conversation_id: OptId,
});

/** What POST /api/agent/events takes: one of these, told apart by `type`. */
export const REST_EVENTS = [MessageEvent, DecisionEvent, AlertEvent, ProcessingStartEvent, ProcessingStopEvent, TaskProposalEvent];

/** The answer to an event (REST, and the WebSocket's ack): "ok" and the ids of what it made. */
export const EventReply = T.Object({
  status: T.Literal("ok"),
  message_id: T.Optional(T.String()),
  conversation_id: T.Optional(T.String()),
  decision_id: T.Optional(T.String()),
  activity_id: T.Optional(T.String()),
});

// WebSocket-only frames.
export const HeartbeatFrame = T.Object({
  type: T.Literal("agent_heartbeat"),
  conversation_id: OptId,
  status_text: T.Optional(T.Union([Text(LIMITS.statusText), T.Null()])),
});
export const IdleFrame = T.Object({ type: T.Literal("agent_idle"), conversation_id: OptId });
// nod's addition: the agent withdraws its own pending request.
export const DecisionCancelFrame = T.Object({ type: T.Literal("decision_cancel"), decision_id: Id });
export const StatusFrame = T.Object({
  type: T.Literal("status"),
  action: T.String({ minLength: 1, maxLength: LIMITS.title }),
  details: T.Optional(T.Unknown()),
});

export type EventReply = Static<typeof EventReply>;
export type MessageEvent = Static<typeof MessageEvent>;
export type DecisionEvent = Static<typeof DecisionEvent>;
export type AlertEvent = Static<typeof AlertEvent>;
export type ProcessingStartEvent = Static<typeof ProcessingStartEvent>;
export type ProcessingStopEvent = Static<typeof ProcessingStopEvent>;
export type TaskProposalEvent = Static<typeof TaskProposalEvent>;
export type HeartbeatFrame = Static<typeof HeartbeatFrame>;
export type IdleFrame = Static<typeof IdleFrame>;
export type StatusFrame = Static<typeof StatusFrame>;
export type DecisionCancelFrame = Static<typeof DecisionCancelFrame>;
