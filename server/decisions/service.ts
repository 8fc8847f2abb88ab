// Requests ("decisions"): approval, choice, question, permission. Agents ask,
// people answer, and the answer goes back to the agent as decision_resolved.
import { and, desc, eq, lt, ne, sql } from "drizzle-orm";
import { prepared } from "../db/prepared.ts";
import type { Ctx } from "../context.ts";
import type { Db } from "../db/index.ts";
import type { UnitOfWork } from "../db/unit-of-work.ts";
import { decisions } from "../db/tables.ts";
import { timeId } from "../lib/ids.ts";
import { isoMs, toApiTime } from "../lib/time.ts";
import { badRequest, conflict, notFound } from "../lib/errors.ts";
import type { Agent } from "../agents/service.ts";
import { recordActivity } from "../activity/service.ts";
import { notifyPeople } from "../push/notices.ts";
import { createTaskFromProposal } from "../tasks/service.ts";
import { scheduleWords } from "../tasks/schedule.ts";
import type { Static } from "elysia";
import type { DecisionView, SelfResolved } from "./model.ts";

export type Decision = typeof decisions.$inferSelect;
export type DecisionKind = Decision["kind"];
export type ResolveStatus = "approved" | "rejected" | "responded" | "dismissed";

export function publicDecision(d: Decision): Static<typeof DecisionView> {
  return {
    id: d.id,
    agent_id: d.agentId,
    conversation_id: d.conversationId,
    task_run_id: d.taskRunId,
    kind: d.kind,
    title: d.title,
    description: d.description,
    options: d.options ?? null,
    allows_always: d.allowsAlways,
    always_allow_label: d.alwaysAllowLabel,
    always_allow_options: d.alwaysAllowOptions ?? null,
    task_proposal: d.proposal ? { ...d.proposal, schedule_description: scheduleWords(d.proposal.task_schedule) } : null,
    status: d.status,
    note: d.note,
    always_allow: d.alwaysAllow,
    always_allow_pattern: d.alwaysAllowPattern,
    resolved_by: d.resolvedBy,
    task_id: d.taskId,
    created_at: toApiTime(d.createdAt),
    resolved_at: toApiTime(d.resolvedAt),
    expires_at: toApiTime(d.expiresAt),
  };
}

export interface NewDecision {
  kind: DecisionKind;
  title: string;
  description: string;
  options?: string[] | null;
  conversationId?: string | null;
  taskRunId?: string | null;
  allowsAlways?: boolean;
  alwaysAllowLabel?: string | null;
  alwaysAllowOptions?: { pattern: string; label: string }[] | null;
  proposal?: Decision["proposal"];
  /** When it expires unanswered (stored time), from the agent's expires_in. */
  expiresAt?: string | null;
}

/** Stores a pending request in the caller's unit of work; inboxes get it after the commit. */
export function insertDecision(uow: UnitOfWork, agent: Agent, input: NewDecision): Decision {
  const d: Decision = {
    id: timeId("dec_"),
    agentId: agent.id,
    conversationId: input.conversationId ?? null,
    taskRunId: input.taskRunId ?? null,
    kind: input.kind,
    title: input.title,
    description: input.description,
    options: input.options ?? null,
    allowsAlways: input.allowsAlways ?? false,
    alwaysAllowLabel: input.alwaysAllowLabel ?? null,
    alwaysAllowOptions: input.alwaysAllowOptions ?? null,
    proposal: input.proposal ?? null,
    status: "pending",
    note: null,
    alwaysAllow: false,
    alwaysAllowPattern: null,
    resolvedBy: null,
    taskId: null,
    createdAt: isoMs(),
    resolvedAt: null,
    expiresAt: input.expiresAt ?? null,
  };
  uow.db.insert(decisions).values(d).run();
  if (d.expiresAt) uow.expiryChanged();
  uow.toInbox({ type: "decision", decision: publicDecision(d) });
  recordActivity(uow, agent.id, "decision_created", `${agent.name} asked: ${d.title}`, d.description || null, d.taskRunId, { refId: d.id });
  notifyPeople(uow, { kind: "request", decision: d });
  return d;
}

/** A request stopped being pending: the inboxes see it, and long-polls waiting on it answer. */
export function settle(uow: UnitOfWork, d: Decision) {
  uow.toInbox({ type: "decision_resolved", decision: publicDecision(d) });
  uow.settled(d.id);
  notifyPeople(uow, { kind: "resolved", decision: d }); // replaces the request's notification on every device that showed it
}

/**
 * Still pending but its expires_at has passed: nobody may answer it any more.
 * The expiry loop marks it expired within moments (and tells the agent).
 */
export function checkAnswerable(d: Decision, nowMs: number) {
  if (d.status !== "pending") throw conflict(`decision already ${d.status}`);
  if (d.expiresAt && Date.parse(d.expiresAt) <= nowMs) throw conflict("decision already expired");
}

/** A value bound when the prepared statement runs (drizzle takes a placeholder in set() as SQL). */
const ph = (name: string) => sql`${sql.placeholder(name)}`;

// Prepared once per database: a person's answer reads its request twice (the route and the transaction).
const stmts = (db: Db) =>
  prepared(db, "decisions", (db) => ({
    byId: db.select().from(decisions).where(eq(decisions.id, sql.placeholder("id"))).prepare(),
    agentPending: db.$client.prepare<{ id: string }, [string, string, number]>(
      "SELECT id FROM decisions INDEXED BY decisions_pending WHERE status = 'pending' AND agent_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
    ),
    answer: db
      .update(decisions)
      .set({
        status: ph("status"),
        note: ph("note"),
        alwaysAllow: ph("alwaysAllow"),
        alwaysAllowPattern: ph("alwaysAllowPattern"),
        resolvedBy: ph("resolvedBy"),
        resolvedAt: ph("resolvedAt"),
        taskId: ph("taskId"),
      })
      .where(eq(decisions.id, sql.placeholder("id")))
      .returning()
      .prepare(),
  }));

export function getDecision(db: Db, id: string): Decision {
  const d = stmts(db).byId.get({ id });
  if (!d) throw notFound("decision");
  return d;
}

/** The agent's own decision, or 404 (another agent's id looks exactly like an unknown one). */
export function getAgentDecision(db: Db, agentId: string, id: string): Decision {
  const d = stmts(db).byId.get({ id });
  if (!d || d.agentId !== agentId) throw notFound("decision");
  return d;
}

export function listDecisions(db: Db, opts: { status?: "pending" | "resolved"; agentId?: string; before?: string; limit: number }) {
  if (opts.status === "pending" && opts.agentId) {
    // One agent's pending requests: through decisions_pending (named: SQLite would otherwise
    // walk all of the agent's requests, answered ones included, by decisions_agent).
    const ids = stmts(db).agentPending.all(opts.agentId, opts.before ?? "\uffff", opts.limit);
    return ids.map((r) => publicDecision(stmts(db).byId.get({ id: r.id })!));
  }
  const where = and(
    opts.status === "pending" ? eq(decisions.status, "pending") : opts.status === "resolved" ? ne(decisions.status, "pending") : undefined,
    opts.agentId ? eq(decisions.agentId, opts.agentId) : undefined,
    opts.before ? lt(decisions.id, opts.before) : undefined,
  );
  return db.select().from(decisions).where(where).orderBy(desc(decisions.id)).limit(opts.limit).all().map(publicDecision);
}

const FITS: Record<DecisionKind, ResolveStatus[]> = {
  approval: ["approved", "rejected", "dismissed"],
  choice: ["responded", "dismissed"],
  question: ["responded", "dismissed"],
  permission: ["approved", "rejected", "dismissed"],
};

export interface Response {
  status: ResolveStatus;
  note?: string | null;
  always_allow?: boolean;
  always_allow_pattern?: string | null;
}

const VERB: Record<ResolveStatus, string> = { approved: "approved", rejected: "rejected", responded: "answered", dismissed: "dismissed" };

/** A person answers a request; unless dismissed, the agent gets decision_resolved. */
export async function respond(ctx: Ctx, agent: Agent, id: string, r: Response, by: string): Promise<Decision> {
  return ctx.writer.now(async (uow) => {
    const db = uow.db;
    const d = getDecision(db, id);
    checkAnswerable(d, ctx.now());
    if (!FITS[d.kind].includes(r.status))
      throw badRequest(`status: '${r.status}' does not fit a ${d.kind} request (use ${FITS[d.kind].join(", ")})`);
    let alwaysAllow = false;
    let pattern: string | null = null;
    if (r.always_allow || r.always_allow_pattern) {
      if (d.kind !== "permission" || r.status !== "approved")
        throw badRequest("always_allow: only for approving a permission request");
      alwaysAllow = true;
      pattern = r.always_allow_pattern ?? d.alwaysAllowOptions?.[0]?.pattern ?? null;
    }
    // An approved proposal becomes a task in the same transaction (or the answer fails with 400).
    const taskId = d.proposal && r.status === "approved" ? await createTaskFromProposal(ctx, uow, agent, d.proposal) : null;
    const updated = stmts(db).answer.get({
      id,
      status: r.status,
      note: r.note ?? null,
      alwaysAllow: alwaysAllow ? 1 : 0,
      alwaysAllowPattern: pattern,
      resolvedBy: by,
      resolvedAt: isoMs(),
      taskId,
    })!;
    settle(uow, updated);
    recordActivity(uow, agent.id, "decision_resolved", `${by} ${VERB[r.status]}: ${d.title}`, r.note ?? null, d.taskRunId, { refId: d.id, outcome: r.status });
    // A dismissed request tells the agent nothing (as in Nod).
    if (r.status !== "dismissed") uow.toAgent(agent.id, "decision_resolved", resolvedEvent(updated));
    return updated;
  });
}

export function resolvedEvent(d: Decision) {
  return {
    decision_id: d.id,
    status: d.status,
    note: d.note,
    title: d.title,
    description: d.description,
    created_at: toApiTime(d.createdAt),
    conversation_id: d.conversationId,
    task_run_id: d.taskRunId,
    always_allow: d.alwaysAllow,
    always_allow_pattern: d.alwaysAllowPattern,
    ...(d.proposal ? { task_id: d.taskId } : {}),
  };
}

/** The agent resolves its own (non-permission) request: status responded, no event back. */
export function selfResolve(ctx: Ctx, agent: Agent, id: string, note: string | null): Static<typeof SelfResolved> {
  ctx.writer.now((uow) => {
    const db = uow.db;
    const d = getAgentDecision(db, agent.id, id);
    if (d.kind === "permission") throw badRequest("decision_id: permission requests can only be answered by a person");
    checkAnswerable(d, ctx.now());
    const updated = db
      .update(decisions)
      .set({ status: "responded", note, resolvedBy: "agent", resolvedAt: isoMs() })
      .where(eq(decisions.id, id))
      .returning()
      .get()!;
    settle(uow, updated);
    recordActivity(uow, agent.id, "decision_resolved", `${agent.name} resolved: ${d.title}`, note, d.taskRunId, { refId: d.id, outcome: "responded" });
  });
  return { status: "resolved", decision_id: id };
}
