// Conversations and their messages: agents post into them, people reply.
import { and, desc, eq, lt, sql } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import type { Db } from "../db/index.ts";
import type { UnitOfWork } from "../db/unit-of-work.ts";
import { conversations, messages } from "../db/tables.ts";
import { prepared } from "../db/prepared.ts";
import { timeId } from "../lib/ids.ts";
import { isoMs, toApiTime } from "../lib/time.ts";
import { forbidden, notFound } from "../lib/errors.ts";
import type { Agent } from "../agents/service.ts";
import type { Static } from "elysia";
import type { ConversationView, MessageView, SentMessage } from "./model.ts";

export type Conversation = typeof conversations.$inferSelect;
export type Message = typeof messages.$inferSelect;

export const publicConversation = (c: Conversation): Static<typeof ConversationView> => ({
  id: c.id,
  agent_id: c.agentId,
  title: c.title,
  is_default: c.isDefault,
  created_at: toApiTime(c.createdAt),
  updated_at: toApiTime(c.updatedAt),
});

export const publicMessage = (m: Message): Static<typeof MessageView> => ({
  id: m.id,
  conversation_id: m.conversationId,
  agent_id: m.agentId,
  role: m.role,
  text: m.text,
  image_url: m.imageUrl,
  report_title: m.reportTitle,
  report_description: m.reportDescription,
  task_run_id: m.taskRunId,
  sender_name: m.senderName,
  created_at: toApiTime(m.createdAt),
});

const stmts = (db: Db) =>
  prepared(db, "conversations", (db) => ({
    byId: db.select().from(conversations).where(eq(conversations.id, sql.placeholder("id"))).prepare(),
    defaultFor: db
      .select()
      .from(conversations)
      .where(and(eq(conversations.agentId, sql.placeholder("agentId")), eq(conversations.isDefault, true)))
      .prepare(),
    // The hot path's writes, straight to bun:sqlite (no query building per call).
    // A message bumps its conversation, and one from an agent or a task counts as unread
    // (the first unread one is remembered: retention counts from it when it deletes messages).
    touch: db.$client.prepare<unknown, [string, number, string, string]>(
      "UPDATE conversations SET updated_at = ?1, unread = unread + ?2, unread_since = CASE WHEN ?2 > 0 AND unread = 0 THEN ?3 ELSE unread_since END WHERE id = ?4",
    ),
    insertMessage: db.$client.prepare<unknown, [string, string, string, string, string, string | null, string | null, string | null, string | null, string | null, string]>(
      `INSERT INTO messages (id, conversation_id, agent_id, role, text, image_url, report_title, report_description, task_run_id, sender_name, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    markRead: db.$client.prepare<unknown, [string]>("UPDATE conversations SET unread = 0, unread_since = NULL WHERE id = ? AND unread > 0"),
  }));

/**
 * The conversation a message goes to: the given one (which must be this
 * agent's, else 404), or the agent's default conversation, made on first use.
 * A new one is announced to the open inboxes after the commit.
 */
export function resolveConversation(uow: UnitOfWork, agent: Pick<Agent, "id" | "name">, conversationId: string | null | undefined, now = isoMs()) {
  const s = stmts(uow.db);
  if (conversationId) {
    const c = s.byId.get({ id: conversationId });
    if (!c || c.agentId !== agent.id) throw notFound("conversation");
    return c;
  }
  const existing = s.defaultFor.get({ agentId: agent.id });
  if (existing) return existing;
  const c: Conversation = { id: timeId("conv_"), agentId: agent.id, title: agent.name, isDefault: true, unread: 0, unreadSince: null, createdAt: now, updatedAt: now };
  uow.db.insert(conversations).values(c).run();
  uow.toInbox({ type: "conversation", conversation: publicConversation(c) });
  return c;
}

export interface NewMessage {
  agentId: string;
  conversationId: string;
  role: Message["role"];
  text: string;
  imageUrl?: string | null;
  reportTitle?: string | null;
  reportDescription?: string | null;
  taskRunId?: string | null;
  senderName?: string | null;
}

/** Inserts a message and bumps its conversation, in the caller's unit of work; inboxes get it after the commit. */
export function insertMessage(uow: UnitOfWork, m: NewMessage, now = isoMs()): Message {
  const row: Message = {
    id: timeId("msg_"),
    conversationId: m.conversationId,
    agentId: m.agentId,
    role: m.role,
    text: m.text,
    imageUrl: m.imageUrl ?? null,
    reportTitle: m.reportTitle ?? null,
    reportDescription: m.reportDescription ?? null,
    taskRunId: m.taskRunId ?? null,
    senderName: m.senderName ?? null,
    createdAt: now,
  };
  const s = stmts(uow.db);
  s.insertMessage.run(row.id, row.conversationId, row.agentId, row.role, row.text, row.imageUrl, row.reportTitle, row.reportDescription, row.taskRunId, row.senderName, row.createdAt);
  s.touch.run(now, row.role === "user" ? 0 : 1, row.id, row.conversationId);
  uow.toInbox({ type: "message", message: publicMessage(row) });
  return row;
}

// ---- people's side ----

export function listConversations(db: Db, agentId: string) {
  return db.select().from(conversations).where(eq(conversations.agentId, agentId)).orderBy(desc(conversations.updatedAt)).all().map(publicConversation);
}

export function getConversation(db: Db, id: string): Conversation {
  const c = stmts(db).byId.get({ id });
  if (!c) throw notFound("conversation");
  return c;
}

export function getMessage(db: Db, id: string): Message {
  const m = db.select().from(messages).where(eq(messages.id, id)).get();
  if (!m) throw notFound("message");
  return m;
}

/** Oldest first; `before` pages back from a message id. */
export function listMessages(db: Db, conversationId: string, opts: { before?: string; limit: number }) {
  const rows = db
    .select()
    .from(messages)
    .where(and(eq(messages.conversationId, conversationId), opts.before ? lt(messages.id, opts.before) : undefined))
    .orderBy(desc(messages.id))
    .limit(opts.limit)
    .all();
  return rows.reverse().map(publicMessage);
}

/** A person opened the conversation: its agent and task messages are read (one row changes, however many there are). */
export function markRead(ctx: Ctx, conversationId: string) {
  const c = getConversation(ctx.db, conversationId);
  ctx.writer.now((uow) => {
    stmts(uow.db).markRead.run(c.id);
    uow.toInbox({ type: "conversation_read", agent_id: c.agentId, conversation_id: c.id });
  });
}

/** A person writes to an agent: stored, and a user_message queued for delivery in the same transaction. */
export function sendUserMessage(ctx: Ctx, agent: Agent, senderName: string, text: string, conversationId?: string | null): Static<typeof SentMessage> {
  if (agent.type === "approval_only") throw forbidden("this agent is approval-only: it has no chat");
  return ctx.writer.now((uow) => {
    const conversation = resolveConversation(uow, agent, conversationId);
    const message = insertMessage(uow, { agentId: agent.id, conversationId: conversation.id, role: "user", text, senderName });
    uow.toAgent(agent.id, "user_message", {
      text,
      sender_name: senderName,
      conversation_id: conversation.id,
      message_id: message.id,
      image_url: null,
      image_urls: null,
      audio_url: null,
      created_at: toApiTime(message.createdAt),
    });
    return { message_id: message.id, conversation_id: conversation.id };
  });
}
