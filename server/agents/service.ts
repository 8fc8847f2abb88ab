// Agents: created by people, authenticated by id + secret.
import { and, desc, eq, gt, inArray, sql } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import { isReadDb, type Db } from "../db/index.ts";
import { StoreCache } from "../db/store-cache.ts";
import { agents, conversations, decisions, dialect } from "../db/tables.ts";
import { first, only } from "../db/rows.ts";
import type { UnitOfWork } from "../db/unit-of-work.ts";
import { notifyPeople } from "../push/notices.ts";
import { pageLimit } from "../lib/paging.ts";
import { prepared } from "../db/prepared.ts";
import { newAgentId, newAgentSecret, newWebhookSecret } from "../lib/ids.ts";
import { secretMatches, sha256hex } from "../lib/secrets.ts";
import { isoMs, toApiTime } from "../lib/time.ts";
import { badRequest, notFound } from "../lib/errors.ts";
import type { Static } from "elysia";
import type { AgentListItem, AgentView } from "./model.ts";

export type Agent = typeof agents.$inferSelect;
export type AgentType = Agent["type"];

export interface AgentInput {
  name?: string;
  avatar?: string | null;
  webhook_url?: string | null;
  type?: AgentType;
}

/** The agent as people see it. The webhook signing secret only on a single agent, never in lists. */
export function publicAgent(ctx: Ctx, a: Agent, withWebhookSecret = false): Static<typeof AgentView> {
  return {
    id: a.id,
    name: a.name,
    avatar: a.avatar,
    type: a.type,
    webhook_url: a.webhookUrl,
    ...(withWebhookSecret ? { webhook_secret: a.webhookSecret } : {}),
    online: ctx.presence.isOnline(a.id),
    last_seen_at: toApiTime(a.lastSeenAt),
    created_at: toApiTime(a.createdAt),
    updated_at: toApiTime(a.updatedAt),
  };
}

export function checkWebhookUrl(url: string | null | undefined): string | null {
  if (url === undefined || url === null || url === "") return null;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw badRequest("webhook_url: not a valid URL");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw badRequest("webhook_url: must be http or https");
  return u.toString();
}

function checkName(name: string) {
  const n = name.trim();
  if (!n) throw badRequest("name: must not be empty");
  return n;
}

// The list's creation order is created_at, then a tiebreak that PostgreSQL has
// no insertion-ordered column for (see `tiebreak` below). So that agents this
// process creates within one millisecond keep their order on both stores, each
// gets a created_at after the one before: a burst's agents are a millisecond
// apart (the API shows whole seconds).
let lastCreatedMs = 0;
const creationTime = () => isoMs((lastCreatedMs = Math.max(Date.now(), lastCreatedMs + 1)));

export async function createAgent(ctx: Ctx, input: AgentInput & { name: string }, createdBy: string | null) {
  const now = creationTime();
  const secret = newAgentSecret();
  const agent: Agent = {
    id: newAgentId(),
    name: checkName(input.name),
    avatar: input.avatar ?? null,
    type: input.type ?? "interactive",
    webhookUrl: checkWebhookUrl(input.webhook_url),
    secretHash: sha256hex(secret),
    webhookSecret: newWebhookSecret(),
    createdBy,
    createdAt: now,
    updatedAt: now,
    lastSeenAt: null,
  };
  await ctx.writer.now(async (uow) => {
    await uow.db.insert(agents).values(agent);
    uow.toInbox({ type: "agent", agent: publicAgent(ctx, agent) });
  });
  ctx.log.info("agent created", { agent: agent.id, name: agent.name });
  return { agent, secret };
}

/** The agent as stored now (last_seen_at included), or 404. */
export async function getAgent(db: Db, id: string): Promise<Agent> {
  const a = first(await agentById(db).execute({ id }));
  if (!a) throw notFound("agent");
  return a;
}

// Creation order is created_at, then the insertion order within a millisecond:
// SQLite's rowid (every index ends with it, so agents_created serves both).
// PostgreSQL has no rowid: there the agent id breaks the tie, a fixed order
// for agents made in one millisecond by several instances (one instance gives
// each of its agents a created_at of its own: creationTime above).
const tiebreak = () => (dialect === "pg" ? sql`${agents.id}` : sql`rowid`);
type Position = { createdAt: string; tiebreak: number | string };

const lists = (db: Db) =>
  prepared(db, "agents.lists", (db) => ({
    // A page: the `limit` agents created last before the one at (createdAt, tiebreak), newest first.
    before: db
      .select()
      .from(agents)
      .where(sql`(${agents.createdAt}, ${tiebreak()}) < (${sql.placeholder("createdAt")}, ${sql.placeholder("tiebreak")})`)
      .orderBy(desc(agents.createdAt), sql`${tiebreak()} DESC`)
      .limit(sql.placeholder("limit"))
      .prepare(),
    position: db
      .select({ createdAt: agents.createdAt, tiebreak: sql<number | string>`${tiebreak()}` })
      .from(agents)
      .where(eq(agents.id, sql.placeholder("id")))
      .prepare(),
  }));

/**
 * Pending requests and unread agent messages of these agents, for the inbox's
 * list. The counts come from two small indexes, never from the messages:
 * pending requests (decisions_pending) and conversations with something unread
 * (conversations_unread); SQLite picks both for an IN list by itself.
 * (Counts are cast: PostgreSQL's count and sum are bigint, which its driver returns as text.)
 */
export async function agentCounts(db: Db, ids: string[]) {
  const byId = (rows: { id: string; n: number }[]) => new Map(rows.map((r) => [r.id, r.n]));
  const pending = byId(
    ids.length
      ? await db
          .select({ id: decisions.agentId, n: sql<number>`cast(count(*) as integer)` })
          .from(decisions)
          .where(and(eq(decisions.status, "pending"), inArray(decisions.agentId, ids)))
          .groupBy(decisions.agentId)
      : [],
  );
  const unread = byId(
    ids.length
      ? await db
          .select({ id: conversations.agentId, n: sql<number>`cast(sum(${conversations.unread}) as integer)` })
          .from(conversations)
          .where(and(gt(conversations.unread, 0), inArray(conversations.agentId, ids)))
          .groupBy(conversations.agentId)
      : [],
  );
  return (id: string) => ({ pending_requests: pending.get(id) ?? 0, unread_messages: unread.get(id) ?? 0 });
}

/**
 * The agents as the inbox lists them, with their pending requests and unread
 * messages, one page at a time like every list (API.md): the `limit` (default
 * 50) created last before the agent `before` (or the newest), oldest first.
 * A page as long as `limit` may have more before it: ?before= its first agent.
 */
export async function listAgentsWithCounts(ctx: Ctx, page: { limit?: number; before?: string } = {}): Promise<Static<typeof AgentListItem>[]> {
  let from: Position = { createdAt: "\uffff", tiebreak: "\uffff" }; // after every stored time (so the tiebreak is never reached): the newest page
  if (page.before !== undefined) {
    const b = first(await lists(ctx.db).position.execute({ id: page.before }));
    if (!b) throw badRequest("before: no agent with this id");
    from = b;
  }
  const list: Agent[] = (await lists(ctx.db).before.execute({ ...from, limit: pageLimit(page.limit) })).reverse();
  const counts = await agentCounts(ctx.db, list.map((a) => a.id));
  return list.map((a) => ({ ...publicAgent(ctx, a), ...counts(a.id) }));
}

export async function updateAgent(ctx: Ctx, id: string, input: AgentInput): Promise<Agent> {
  await getAgent(ctx.db, id);
  const patch: Partial<Agent> = { updatedAt: isoMs() };
  if (input.name !== undefined) patch.name = checkName(input.name);
  if (input.avatar !== undefined) patch.avatar = input.avatar;
  if (input.webhook_url !== undefined) patch.webhookUrl = checkWebhookUrl(input.webhook_url);
  if (input.type !== undefined) patch.type = input.type;
  return ctx.writer.now(async (uow) => {
    forgetAgent(uow, id);
    const updated = only(await uow.db.update(agents).set(patch).where(eq(agents.id, id)).returning());
    uow.toInbox({ type: "agent", agent: publicAgent(ctx, updated) });
    return updated;
  });
}

export async function deleteAgent(ctx: Ctx, id: string) {
  await getAgent(ctx.db, id);
  await ctx.writer.now(async (uow) => {
    // Its pending requests go with it. The devices told of them hear so (their
    // notification is replaced, quietly), with the app badge counted without them.
    const pending = await uow.db.select().from(decisions).where(and(eq(decisions.agentId, id), eq(decisions.status, "pending")));
    await uow.db.delete(decisions).where(eq(decisions.agentId, id));
    for (const d of pending) await notifyPeople(uow, { kind: "resolved", decision: d, outcome: "Its agent was deleted" });
    forgetAgent(uow, id);
    await uow.db.delete(agents).where(eq(agents.id, id));
    uow.closeAgentSockets(id, 4004, "agent deleted");
    uow.toInbox({ type: "agent_deleted", agent_id: id });
  });
  ctx.log.info("agent deleted", { agent: id });
}

export async function rotateSecret(ctx: Ctx, id: string): Promise<string> {
  await getAgent(ctx.db, id);
  const secret = newAgentSecret();
  await ctx.writer.now(async (uow) => {
    forgetAgent(uow, id);
    await uow.db.update(agents).set({ secretHash: sha256hex(secret), updatedAt: isoMs() }).where(eq(agents.id, id));
    uow.closeAgentSockets(id, 4003, "secret rotated");
  });
  ctx.log.info("agent secret rotated", { agent: id });
  return secret;
}

export type CredentialCheck = { ok: true; agent: Agent } | { ok: false; reason: "unknown_agent" | "bad_secret" };

/** The one credential check, used by REST headers and the WebSocket handshake. */
export async function checkAgentCredentials(db: Db, agentId: unknown, secret: unknown): Promise<CredentialCheck> {
  if (typeof agentId !== "string" || typeof secret !== "string" || !agentId || !secret) return { ok: false, reason: "bad_secret" };
  const agent = await knownAgent(db, agentId);
  if (!agent) return { ok: false, reason: "unknown_agent" };
  if (!secretMatches(secret, agent.secretHash)) return { ok: false, reason: "bad_secret" };
  return { ok: true, agent };
}

// ---- the agents every request authenticates against, kept in memory ----
//
// Every agent request and socket frame needs its agent's row (secret digest,
// name, type). They are read once and kept; whatever changes or removes an
// agent (update, rotate, delete) drops its entry inside its own unit of work,
// before the commit, so no request after the change can see the old row.
// Other nod instances on the same PostgreSQL database drop it when that
// commit's effects reach them (Effects.forget, db/pg-fanout.ts). last_seen_at
// in a kept row is not kept current: people's routes read agents from the database.

/** Agents kept at most; beyond, the longest unused is dropped (a server with more reads them again). */
export const KNOWN_AGENTS_MAX = 10_000;
const known = new StoreCache<Agent>(KNOWN_AGENTS_MAX, "agents");

const agentById = (db: Db) => prepared(db, "agents.byId", (db) => db.select().from(agents).where(eq(agents.id, sql.placeholder("id"))).prepare());

/** The agent with this id, from memory when it was read before; undefined when there is none. */
export async function knownAgent(db: Db, id: string): Promise<Agent | undefined> {
  // Kept only when read on ctx.db: a read inside a unit of work may yet roll back.
  return known.load(db, id, async () => first(await agentById(db).execute({ id })));
}

/**
 * The agent changed or is gone: the next request reads it again. Called inside
 * the change's unit of work: dropped at once (reads in the unit see the change)
 * and again after the COMMIT (a read elsewhere in between kept the old row).
 */
export function forgetAgent(uow: UnitOfWork, id: string) {
  known.forget(uow, id);
}

/** Tunable by tests; the documented value is one last_seen_at write a minute per agent (as for sockets). */
export const LAST_SEEN = { everyMs: 60_000 };
const lastTouched = new WeakMap<Db, Map<string, number>>();
const touchStmt = (db: Db) =>
  prepared(db, "agents.touchRest", (db) =>
    db.update(agents).set({ lastSeenAt: sql`${sql.placeholder("at")}` }).where(eq(agents.id, sql.placeholder("id"))).prepare(),
  );

/**
 * An authenticated REST request: the agent was seen now. Written at most once
 * a minute per agent, in the next group commit (it rides along with the
 * request's own write, if it has one), so an agent that only uses REST still
 * shows "last seen …" in the inbox.
 */
export function agentSeen(ctx: Ctx, id: string) {
  const now = ctx.now();
  let seen = lastTouched.get(ctx.db);
  if (!seen) lastTouched.set(ctx.db, (seen = new Map()));
  if (now - (seen.get(id) ?? -Infinity) < LAST_SEEN.everyMs) return;
  seen.set(id, now);
  ctx.writer.run(async (uow) => void (await touchStmt(uow.db).execute({ id, at: isoMs(now) }))).catch(() => {
    seen.delete(id); // not recorded (e.g. the server is stopping): the next request tries again
  });
}
