// Conversations and their messages: agents post into them, people reply.
import { and, desc, eq, gt, lt, sql } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import type { Db } from "../db/index.ts";
import type { UnitOfWork } from "../db/unit-of-work.ts";
import { conversations, messages } from "../db/tables.ts";
import { hotRead, hotWrite, prepared } from "../db/prepared.ts";
import { first } from "../db/rows.ts";
import { StoreCache } from "../db/store-cache.ts";
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

// Every message looks up its conversation (hotRead: straight to bun:sqlite on SQLite).
const reads = {
  byId: (db: Db) => hotRead(db, "conversations.byId", (db) => db.select().from(conversations).where(eq(conversations.id, sql.placeholder("id")))),
  defaultFor: (db: Db) =>
    hotRead(db, "conversations.defaultFor", (db) =>
      db
        .select()
        .from(conversations)
        .where(and(eq(conversations.agentId, sql.placeholder("agentId")), eq(conversations.isDefault, true))),
    ),
};

const stmts = (db: Db) =>
  prepared(db, "conversations", (db) => ({
    markRead: db
      .update(conversations)
      .set({ unread: 0, unreadSince: null })
      .where(and(eq(conversations.id, sql.placeholder("id")), gt(conversations.unread, 0)))
      .prepare(),
  }));

// The hot path's writes (hotWrite: straight to bun:sqlite on SQLite). A message
// bumps its conversation; one from an agent or a task counts as unread (the
// first unread one is remembered: retention counts from it when it deletes messages).
const writes = {
  insertMessage: (db: Db) =>
    hotWrite(db, "conversations.insertMessage", (db) =>
      db
        .insert(messages)
        .values(Object.fromEntries(MESSAGE_COLUMNS.map((k) => [k, sql.placeholder(k)])) as Record<(typeof MESSAGE_COLUMNS)[number], ReturnType<typeof sql.placeholder>>)
        .prepare(),
    ),
  touch: (db: Db) =>
    hotWrite(db, "conversations.touch", (db) =>
      db
        .update(conversations)
        .set({ updatedAt: sql`${sql.placeholder("at")}` })
        .where(eq(conversations.id, sql.placeholder("id")))
        .prepare(),
    ),
  touchUnread: (db: Db) =>
    hotWrite(db, "conversations.touchUnread", (db) =>
      db
        .update(conversations)
        .set({
          updatedAt: sql`${sql.placeholder("at")}`,
          unread: sql`${conversations.unread} + 1`,
          unreadSince: sql`CASE WHEN ${conversations.unread} = 0 THEN ${sql.placeholder("messageId")} ELSE ${conversations.unreadSince} END`,
        })
        .where(eq(conversations.id, sql.placeholder("id")))
        .prepare(),
    ),
};

const MESSAGE_COLUMNS = ["id", "conversationId", "agentId", "role", "text", "imageUrl", "reportTitle", "reportDescription", "taskRunId", "senderName", "createdAt"] as const;

// Each agent's default conversation id, once known: it never changes (a default
// conversation goes only with its agent, and its agent's id is never reused),
// so a message to it needs no read once one unit has committed it.
const defaultIds = new StoreCache<string>(10_000);

/**
 * The conversation a message goes to: the given one (which must be this
 * agent's, else 404), or the agent's default conversation, made on first use.
 * A new one is announced to the open inboxes after the commit.
 */
export async function resolveConversation(uow: UnitOfWork, agent: Pick<Agent, "id" | "name">, conversationId: string | null | undefined, now = isoMs()): Promise<{ id: string }> {
  if (conversationId) {
    const c = first(await reads.byId(uow.db).execute({ id: conversationId }));
    if (!c || c.agentId !== agent.id) throw notFound("conversation");
    return c;
  }
  return { id: await defaultIds.loadInUnit(uow, agent.id, async () => (await defaultFor(uow, agent, now)).id) };
}

/** The agent's default conversation, made (and announced to the inboxes) if it has none yet. */
async function defaultFor(uow: UnitOfWork, agent: Pick<Agent, "id" | "name">, now: string): Promise<Conversation> {
  const existing = first(await reads.defaultFor(uow.db).execute({ agentId: agent.id }));
  if (existing) return existing;
  const c: Conversation = { id: timeId("conv_"), agentId: agent.id, title: agent.name, isDefault: true, unread: 0, unreadSince: null, createdAt: now, updatedAt: now };
  await uow.db.insert(conversations).values(c);
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
export async function insertMessage(uow: UnitOfWork, m: NewMessage, now = isoMs()): Promise<Message> {
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
  await writes.insertMessage(uow.db).execute(row);
  if (row.role === "user") await writes.touch(uow.db).execute({ at: now, id: row.conversationId });
  else await writes.touchUnread(uow.db).execute({ at: now, messageId: row.id, id: row.conversationId });
  uow.toInbox({ type: "message", message: publicMessage(row) });
  return row;
}

// ---- people's side ----

export async function listConversations(db: Db, agentId: string) {
  return (await db.select().from(conversations).where(eq(conversations.agentId, agentId)).orderBy(desc(conversations.updatedAt))).map(publicConversation);
}

export async function getConversation(db: Db, id: string): Promise<Conversation> {
  const c = first(await reads.byId(db).execute({ id }));
  if (!c) throw notFound("conversation");
  return c;
}

export async function getMessage(db: Db, id: string): Promise<Message> {
  const m = first(await db.select().from(messages).where(eq(messages.id, id)));
  if (!m) throw notFound("message");
  return m;
}

/** Oldest first; `before` pages back from a message id. */
export async function listMessages(db: Db, conversationId: string, opts: { before?: string; limit: number }) {
  const rows = await db
    .select()
    .from(messages)
    .where(and(eq(messages.conversationId, conversationId), opts.before ? lt(messages.id, opts.before) : undefined))
    .orderBy(desc(messages.id))
    .limit(opts.limit);
  return rows.reverse().map(publicMessage);
}

/** A person opened the conversation: its agent and task messages are read (one row changes, however many there are). */
export async function markRead(ctx: Ctx, conversationId: string) {
  const c = await getConversation(ctx.db, conversationId);
  await ctx.writer.now(async (uow) => {
    await stmts(uow.db).markRead.execute({ id: c.id });
    uow.toInbox({ type: "conversation_read", agent_id: c.agentId, conversation_id: c.id });
  });
}

/** A person writes to an agent: stored, and a user_message queued for delivery in the same transaction. */
export async function sendUserMessage(ctx: Ctx, agent: Agent, senderName: string, text: string, conversationId?: string | null): Promise<Static<typeof SentMessage>> {
  if (agent.type === "approval_only") throw forbidden("this agent is approval-only: it has no chat");
  return ctx.writer.now(async (uow) => {
    const conversation = await resolveConversation(uow, agent, conversationId);
    const message = await insertMessage(uow, { agentId: agent.id, conversationId: conversation.id, role: "user", text, senderName });
    await uow.toAgent(agent.id, "user_message", {
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
