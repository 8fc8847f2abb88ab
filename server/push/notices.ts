// What nod tells people's devices: a notice (a new request, its answer, an
// agent's message, a failed run, a test) becomes one queued push per device
// that should get it, written by notifyPeople in the unit of work of the
// change it tells of; the sender (sender.ts) encrypts and posts them after
// the commit. Payloads are plain text (markdown stripped) with one tag per
// request or conversation, so a newer push replaces the older notification.
import { eq, sql } from "drizzle-orm";
import type { Db } from "../db/index.ts";
import type { UnitOfWork } from "../db/unit-of-work.ts";
import { agents, decisions, pushQueue, pushSettings, pushSubscriptions } from "../db/tables.ts";
import { hotRead, prepared } from "../db/prepared.ts";
import { StoreCache } from "../db/store-cache.ts";
import { first, literalLimit, only } from "../db/rows.ts";
import { isoMs } from "../lib/time.ts";
import { clip, plainText } from "./text.ts";

type DecisionRow = typeof decisions.$inferSelect;
type MessageRow = { id: string; agentId: string; conversationId: string; text: string; imageUrl: string | null; reportTitle: string | null; reportDescription: string | null };
type RunRow = { id: string; taskId: string; agentId: string; summary: string | null };

/** What nod tells people about. Build one and pass it to enqueuePush inside the change's transaction. */
export type PushNotice =
  | { kind: "request"; decision: DecisionRow }
  | { kind: "resolved"; decision: DecisionRow; outcome?: string } // outcome: what the notification says instead of the status word
  | { kind: "message"; message: MessageRow }
  | { kind: "run_failed"; run: RunRow; taskName: string }
  | { kind: "test"; userId: string };

export interface PushPayload {
  type: PushNotice["kind"];
  title: string;
  body: string;
  url: string; // a path under /app that opens the thing itself
  tag: string; // one per request, conversation or task: a newer push replaces the older notification
  badge: number; // pending requests, for the app icon's badge
  [key: string]: unknown;
}

export const TTL = { request: 7 * 86_400, resolved: 7 * 86_400, message: 86_400, run_failed: 86_400, test: 300 };

const q = {
  agentName: (db: Db) =>
    prepared(db, "push.agentName", (db) => db.select({ name: agents.name }).from(agents).where(eq(agents.id, sql.placeholder("id"))).prepare()),
  pending: (db: Db) =>
    prepared(db, "push.pendingCount", (db) =>
      db.select({ n: sql<number>`cast(count(*) as integer)` }).from(decisions).where(eq(decisions.status, "pending")).prepare(),
    ),
  // Asked by the first message or request after start or a new device (`subscribed` keeps the answer).
  anyDevice: (db: Db) => hotRead(db, "push.anyDevice", (db) => db.select({ id: pushSubscriptions.id }).from(pushSubscriptions).limit(literalLimit(1))),
  tagged: (db: Db) =>
    hotRead(db, "push.tagged", (db) => db.select({ id: pushQueue.id }).from(pushQueue).where(eq(pushQueue.tag, sql.placeholder("tag"))).limit(literalLimit(1))),
  recipients: (db: Db) =>
    prepared(db, "push.recipients", (db) =>
      db
        .select({ id: pushSubscriptions.id, userId: pushSubscriptions.userId, endpoint: pushSubscriptions.endpoint, messages: pushSettings.messages, failedRuns: pushSettings.failedRuns, muted: pushSettings.mutedAgents })
        .from(pushSubscriptions)
        .leftJoin(pushSettings, eq(pushSettings.userId, pushSubscriptions.userId))
        .prepare(),
    ),
};

const agentName = async (db: Db, id: string) => first(await q.agentName(db).execute({ id }))?.name ?? "An agent";

const ACTIONS: Record<string, { action: string; title: string; answer: Record<string, unknown> }[]> = {
  approval: [
    { action: "approve", title: "Approve", answer: { status: "approved" } },
    { action: "reject", title: "Reject", answer: { status: "rejected" } },
  ],
  permission: [
    { action: "allow", title: "Allow", answer: { status: "approved" } },
    { action: "deny", title: "Deny", answer: { status: "rejected" } },
  ],
};

const HINT: Record<string, string> = { approval: "Approve or reject", permission: "Allow or deny", choice: "Choose an answer", question: "Answer in nod" };
const OUTCOME: Record<string, string> = { approved: "Approved", rejected: "Rejected", responded: "Answered", dismissed: "Dismissed", expired: "Expired", cancelled: "Withdrawn by the agent" };

const requestTitle = async (db: Db, d: DecisionRow) => clip(`${await agentName(db, d.agentId)}: ${plainText(d.title)}`, 120);

async function requestPayload(db: Db, d: DecisionRow, badge: number): Promise<PushPayload> {
  const choices = d.kind === "choice" && d.options && d.options.length > 0 && d.options.length <= 2;
  const actions = choices
    ? d.options!.map((o, i) => ({ action: `option-${i}`, title: clip(o, 40), answer: { status: "responded", note: o } }))
    : (ACTIONS[d.kind] ?? []);
  const description = plainText(d.description);
  const body = d.proposal ? `Task proposal: ${d.proposal.task_name} (${d.proposal.task_schedule})` : description || HINT[d.kind] || "";
  return {
    type: "request",
    title: await requestTitle(db, d),
    body: clip(body, 300),
    url: `/app/requests/${d.id}`,
    tag: d.id,
    badge,
    decision_id: d.id,
    agent_id: d.agentId,
    kind: d.kind,
    actions: actions.map(({ action, title }) => ({ action, title })),
    answers: Object.fromEntries(actions.map((a) => [a.action, a.answer])),
  };
}

async function resolvedPayload(db: Db, d: DecisionRow, badge: number, outcome?: string): Promise<PushPayload> {
  // Generic over statuses: "expired" and "cancelled" (withdrawn) come from another change.
  const status: string = d.status;
  const who = d.resolvedBy === "agent" ? "the agent" : d.resolvedBy;
  const word = outcome ?? OUTCOME[status] ?? status.charAt(0).toUpperCase() + status.slice(1);
  const note = d.note ? `: ${plainText(d.note)}` : "";
  return {
    type: "resolved",
    title: await requestTitle(db, d),
    body: clip(`${word}${who && status !== "cancelled" ? ` by ${who}` : ""}${note}`, 300),
    url: `/app/requests/${d.id}`,
    tag: d.id,
    badge,
    decision_id: d.id,
    resolved: true,
    status: d.status,
  };
}

async function messagePayload(db: Db, m: MessageRow, badge: number): Promise<PushPayload> {
  const text = m.reportTitle ? `${plainText(m.reportTitle)}\n${plainText(m.reportDescription || m.text)}` : plainText(m.text);
  return {
    type: "message",
    title: clip(await agentName(db, m.agentId), 120),
    body: clip(text.trim() || (m.imageUrl ? "Sent an image" : "Sent a message"), 300),
    url: `/app/agents/${m.agentId}/chat?conversation=${m.conversationId}`,
    tag: m.conversationId,
    badge,
    agent_id: m.agentId,
    conversation_id: m.conversationId,
    message_id: m.id,
  };
}

async function runPayload(db: Db, r: RunRow, taskName: string, badge: number): Promise<PushPayload> {
  const summary = plainText(r.summary ?? "");
  return {
    type: "run_failed",
    title: clip(`Task failed: ${plainText(taskName)}`, 120),
    body: clip(`${await agentName(db, r.agentId)}${summary ? ` · ${summary}` : ""}`, 300),
    url: `/app/tasks/${r.taskId}`,
    tag: r.taskId,
    badge,
    agent_id: r.agentId,
    task_id: r.taskId,
    run_id: r.id,
  };
}

const testPayload = (badge: number): PushPayload => ({
  type: "test",
  title: "nod test notification",
  body: "Notifications work on this device.",
  url: "/app/settings/notifications",
  tag: "nod-test",
  badge,
});

type QueueKind = (typeof pushQueue.$inferSelect)["kind"];

/**
 * Whether any device is subscribed at all, kept in memory: asked on every
 * message and request. Dropped (on every instance) when a device subscribes;
 * a device going away leaves it true, which only costs the full query.
 */
export const subscribed = new StoreCache<boolean>(1, "push-subscribed");

/** Tells people's devices about something, in the caller's unit of work: the sender wakes after the commit. */
export async function notifyPeople(uow: UnitOfWork, notice: PushNotice): Promise<number> {
  // Most servers have no device subscribed: then nothing is built at all.
  if (notice.kind !== "resolved" && !(await subscribed.loadInUnit(uow, "any", async () => (await q.anyDevice(uow.db).execute()).length > 0))) return 0;
  const queued = await enqueuePush(uow.db, notice);
  if (queued > 0) uow.pushQueued();
  return queued;
}

/**
 * Queues the notice for every device that should get it, inside the caller's
 * transaction; returns how many pushes were queued (notifyPeople is the way in). Requests go to every device; messages and failed runs
 * follow each person's settings; an answered request goes to the devices that
 * were told of it, under the same tag.
 */
async function enqueuePush(db: Db, notice: PushNotice): Promise<number> {
  if (notice.kind === "resolved" && (await q.tagged(db).execute({ tag: notice.decision.id })).length === 0) return 0;
  const badge = only(await q.pending(db).execute()).n;
  const now = isoMs();
  if (notice.kind === "resolved") {
    const d = notice.decision;
    const payload = JSON.stringify(await resolvedPayload(db, d, badge, notice.outcome));
    const replaced = await db
      .update(pushQueue)
      .set({ kind: "resolved", payload, urgency: "normal", ttl: TTL.resolved, status: "pending", version: sql`${pushQueue.version} + 1`, attempts: 0, nextAttemptAt: now, lastError: null })
      .where(eq(pushQueue.tag, d.id))
      .returning({ id: pushQueue.id });
    return replaced.length;
  }
  let payload: PushPayload;
  let agentId: string | null = null;
  let wants: (r: { messages: boolean | null; failedRuns: boolean | null; muted: string[] | null; userId: string }) => boolean = () => true;
  switch (notice.kind) {
    case "request":
      payload = await requestPayload(db, notice.decision, badge);
      break;
    case "message":
      payload = await messagePayload(db, notice.message, badge);
      agentId = notice.message.agentId;
      wants = (r) => r.messages !== false && !r.muted?.includes(agentId!);
      break;
    case "run_failed":
      payload = await runPayload(db, notice.run, notice.taskName, badge);
      agentId = notice.run.agentId;
      wants = (r) => r.failedRuns !== false && !r.muted?.includes(agentId!);
      break;
    case "test":
      payload = testPayload(badge);
      wants = (r) => r.userId === notice.userId;
      break;
  }
  const kind: QueueKind = notice.kind === "run_failed" ? "run" : notice.kind;
  const text = JSON.stringify(payload);
  const rows = (await q.recipients(db).execute())
    .filter(wants)
    .map((r) => ({
      subscriptionId: r.id,
      origin: new URL(r.endpoint).origin,
      tag: payload.tag,
      kind,
      payload: text,
      urgency: notice.kind === "request" ? ("high" as const) : ("normal" as const),
      ttl: TTL[notice.kind],
      status: "pending" as const,
      nextAttemptAt: now,
      createdAt: now,
    }));
  // A newer notice for the same device and tag replaces one not sent yet (or a sent request's marker).
  for (let i = 0; i < rows.length; i += 500)
    await db
      .insert(pushQueue)
      .values(rows.slice(i, i + 500))
      .onConflictDoUpdate({
        target: [pushQueue.subscriptionId, pushQueue.tag],
        set: {
          kind: sql`excluded.kind`,
          payload: sql`excluded.payload`,
          urgency: sql`excluded.urgency`,
          ttl: sql`excluded.ttl`,
          status: "pending",
          version: sql`${pushQueue.version} + 1`,
          attempts: 0,
          nextAttemptAt: now,
          lastError: null,
          createdAt: now,
        },
      });
  return rows.length;
}
