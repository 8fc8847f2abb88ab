// The whole database, in code. `bun run db:generate` turns changes here into a
// migration under drizzle/, which is embedded in the binary and applied at start.
//
// Ids are prefixed, time-ordered strings (see lib/ids.ts), so "newest first"
// and `?before=ID` paging are plain comparisons on the primary key.
// Times are ISO 8601 UTC strings with a trailing Z.
import { sql } from "drizzle-orm";
import { sqliteTable, text, integer, blob, index, primaryKey, uniqueIndex } from "drizzle-orm/sqlite-core";

export const users = sqliteTable("users", {
  id: text("id").primaryKey(), // usr_
  username: text("username").notNull().unique(),
  passwordHash: text("password_hash").notNull(),
  createdAt: text("created_at").notNull(),
});

// A signed-in browser. The cookie holds a random token; only its SHA-256 is stored.
export const sessions = sqliteTable(
  "sessions",
  {
    tokenHash: text("token_hash").primaryKey(),
    userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    createdAt: text("created_at").notNull(),
    expiresAt: text("expires_at").notNull(),
  },
  (t) => [index("sessions_user").on(t.userId), index("sessions_expiry").on(t.expiresAt)],
);

// Sign-in and setup attempts that count against their limits (auth/limits.ts):
// one fixed window per key ("user:alice", "pair:alice\n10.0.0.1", "ip:…",
// "fresh:…", "setup:…"). Kept here, not in memory, so a restart does not reset
// them and processes sharing the database count together. Rows whose window
// has ended are pruned as new attempts come in, through auth_limits_reset.
export const authLimits = sqliteTable(
  "auth_limits",
  {
    key: text("key").primaryKey(),
    count: integer("count").notNull(),
    resetAt: text("reset_at").notNull(), // the window's end
  },
  (t) => [index("auth_limits_reset").on(t.resetAt)],
);

// The addresses (IPv6 by /64) each username signed in from lately, the last 20:
// they may still try while the username is under attack (auth/limits.ts).
export const authKnownAddresses = sqliteTable(
  "auth_known_addresses",
  {
    userKey: text("user_key").notNull(), // the username, trimmed and lowercased
    address: text("address").notNull(),
    lastAt: text("last_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userKey, t.address] }), index("auth_known_addresses_recent").on(t.userKey, t.lastAt)],
);

export const agents = sqliteTable(
  "agents",
  {
    id: text("id").primaryKey(), // agt_ + 16 hex
    name: text("name").notNull(),
    avatar: text("avatar"),
    type: text("type", { enum: ["interactive", "approval_only"] }).notNull(),
    webhookUrl: text("webhook_url"),
    secretHash: text("secret_hash").notNull(), // SHA-256 hex of the nod_ secret
    webhookSecret: text("webhook_secret").notNull(), // whsec_…, shown to people, used to sign webhooks
    createdBy: text("created_by"),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    lastSeenAt: text("last_seen_at"),
  },
  // Agent ids are random: the list is in creation order (created_at, then rowid: every
  // index ends with the rowid) and pages (?before=ID) through this.
  (t) => [index("agents_created").on(t.createdAt)],
);

export const conversations = sqliteTable(
  "conversations",
  {
    id: text("id").primaryKey(), // conv_
    agentId: text("agent_id").notNull().references(() => agents.id, { onDelete: "cascade" }),
    title: text("title").notNull(),
    isDefault: integer("is_default", { mode: "boolean" }).notNull().default(false),
    // Agent and task messages no person has opened yet: +1 with each, 0 when the
    // conversation is marked read. Counts stay one lookup however many messages there are.
    unread: integer("unread").notNull().default(0),
    // The id of the first of those (when unread > 0): the unread ones are the agent and
    // task messages from it on, so retention can tell how many it deletes (ops/retention.ts).
    unreadSince: text("unread_since"),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [
    index("conversations_agent").on(t.agentId, t.updatedAt),
    // The inbox's unread counts: only conversations with something unread are in it.
    index("conversations_unread").on(t.agentId, t.unread).where(sql`unread > 0`),
  ],
);

export const messages = sqliteTable(
  "messages",
  {
    id: text("id").primaryKey(), // msg_
    conversationId: text("conversation_id").notNull().references(() => conversations.id, { onDelete: "cascade" }),
    agentId: text("agent_id").notNull().references(() => agents.id, { onDelete: "cascade" }),
    role: text("role", { enum: ["agent", "user", "task"] }).notNull(),
    text: text("text").notNull().default(""),
    imageUrl: text("image_url"),
    reportTitle: text("report_title"),
    reportDescription: text("report_description"),
    taskRunId: text("task_run_id"),
    senderName: text("sender_name"), // the person's username for role=user
    createdAt: text("created_at").notNull(),
  },
  (t) => [index("messages_conversation").on(t.conversationId, t.id)],
);

export const decisions = sqliteTable(
  "decisions",
  {
    id: text("id").primaryKey(), // dec_
    agentId: text("agent_id").notNull().references(() => agents.id, { onDelete: "cascade" }),
    conversationId: text("conversation_id"),
    taskRunId: text("task_run_id"),
    kind: text("kind", { enum: ["approval", "choice", "question", "permission"] }).notNull(),
    title: text("title").notNull(),
    description: text("description").notNull().default(""),
    options: text("options", { mode: "json" }).$type<string[] | null>(),
    allowsAlways: integer("allows_always", { mode: "boolean" }).notNull().default(false),
    alwaysAllowLabel: text("always_allow_label"),
    alwaysAllowOptions: text("always_allow_options", { mode: "json" }).$type<{ pattern: string; label: string }[] | null>(),
    // A task proposal is an approval whose approval creates this task.
    proposal: text("proposal", { mode: "json" }).$type<{ task_name: string; task_prompt: string; task_schedule: string; timezone?: string } | null>(),
    // expired: nobody answered by expires_at; cancelled: the agent withdrew it.
    status: text("status", { enum: ["pending", "approved", "rejected", "responded", "dismissed", "expired", "cancelled"] }).notNull().default("pending"),
    note: text("note"),
    alwaysAllow: integer("always_allow", { mode: "boolean" }).notNull().default(false),
    alwaysAllowPattern: text("always_allow_pattern"),
    resolvedBy: text("resolved_by"), // a username, or "agent" for self-resolve
    taskId: text("task_id"), // the task an approved proposal created
    createdAt: text("created_at").notNull(),
    resolvedAt: text("resolved_at"),
    expiresAt: text("expires_at"), // set by the agent's expires_in; the expiry loop (decisions/expiry.ts) acts on it
  },
  (t) => [
    index("decisions_status").on(t.status, t.id),
    index("decisions_agent").on(t.agentId, t.id),
    // Pending requests per agent (the inbox's counts, an agent's pending list): only pending ones are in it.
    index("decisions_pending").on(t.agentId, t.id).where(sql`status = 'pending'`),
    // The expiry loop's due list: only pending requests with a due time are in it.
    index("decisions_expiry").on(t.expiresAt).where(sql`status = 'pending' AND expires_at IS NOT NULL`),
  ],
);

export const activity = sqliteTable(
  "activity",
  {
    id: text("id").primaryKey(), // act_
    agentId: text("agent_id").notNull().references(() => agents.id, { onDelete: "cascade" }),
    type: text("type", { enum: ["decision_created", "decision_resolved", "agent_message", "agent_action", "system"] }).notNull(),
    title: text("title").notNull(),
    text: text("text"),
    taskRunId: text("task_run_id"),
    // What the entry is about, for the inbox's link: a request (dec_), a message (msg_) or a run (run_).
    refId: text("ref_id"),
    // How it ended, where that matters: a request's answer (approved, rejected, dismissed…) or a run's (completed, failed).
    outcome: text("outcome"),
    createdAt: text("created_at").notNull(),
  },
  (t) => [index("activity_agent").on(t.agentId, t.id)],
);

export const tasks = sqliteTable(
  "tasks",
  {
    id: text("id").primaryKey(), // tsk_
    agentId: text("agent_id").notNull().references(() => agents.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    prompt: text("prompt").notNull(),
    schedule: text("schedule").notNull(), // cron expression, "once" or "event"
    triggerType: text("trigger_type", { enum: ["scheduled", "once", "event"] }).notNull(),
    timezone: text("timezone").notNull().default("UTC"),
    runAt: text("run_at"), // once tasks
    triggerId: text("trigger_id").unique(), // event tasks: 64 hex
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    nextRunAt: text("next_run_at"), // the scheduler's truth; null when nothing is scheduled
    lastRunStatus: text("last_run_status"),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [index("tasks_agent").on(t.agentId), index("tasks_next_run").on(t.enabled, t.nextRunAt)],
);

export const taskRuns = sqliteTable(
  "task_runs",
  {
    id: text("id").primaryKey(), // run_
    taskId: text("task_id").notNull().references(() => tasks.id, { onDelete: "cascade" }),
    agentId: text("agent_id").notNull().references(() => agents.id, { onDelete: "cascade" }),
    status: text("status", { enum: ["due", "running", "completed", "failed"] }).notNull(),
    trigger: text("trigger", { enum: ["schedule", "manual", "event", "agent"] }).notNull(),
    triggerEventId: text("trigger_event_id"), // evt_ for event runs (pending triggers)
    payload: text("payload", { mode: "json" }).$type<unknown>(),
    summary: text("summary"),
    createdAt: text("created_at").notNull(), // when it became due / was received
    startedAt: text("started_at"),
    finishedAt: text("finished_at"),
  },
  (t) => [
    index("task_runs_task").on(t.taskId, t.id),
    index("task_runs_agent_status").on(t.agentId, t.status),
    index("task_runs_finished").on(t.finishedAt), // retention: finished runs past --keep-runs (ops/retention.ts)
    // The run-timeout sweep: open runs by the time they became due (finished runs are not in it).
    index("task_runs_open").on(t.createdAt).where(sql`status IN ('due', 'running')`),
  ],
);

export const runContext = sqliteTable(
  "run_context",
  {
    runId: text("run_id").notNull().references(() => taskRuns.id, { onDelete: "cascade" }),
    blockId: integer("block_id").notNull(), // 1, 2, … per run
    text: text("text").notNull(),
    createdAt: text("created_at").notNull(),
  },
  (t) => [uniqueIndex("run_context_pk").on(t.runId, t.blockId)],
);

// The durable outbox: every event that must reach an agent (user_message,
// decision_resolved, task_due, task_trigger) is written here in the same
// transaction as the change that caused it, and stays until delivered.
export const outbox = sqliteTable(
  "outbox",
  {
    id: text("id").primaryKey(), // evt_ — also the X-Nod-Event-Id and the frame's event_id
    agentId: text("agent_id").notNull().references(() => agents.id, { onDelete: "cascade" }),
    type: text("type", { enum: ["user_message", "decision_resolved", "task_due", "task_trigger"] }).notNull(),
    payload: text("payload").notNull(), // the event as JSON text, serialized once
    // pending: not delivered yet (due for an attempt at next_attempt_at, or waiting for a socket);
    // delivered: done; undelivered: webhook attempts ran out, waits for the agent's socket.
    status: text("status", { enum: ["pending", "delivered", "undelivered"] }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0), // webhook attempts made
    nextAttemptAt: text("next_attempt_at"), // null: no webhook attempt scheduled
    lastError: text("last_error"),
    deliveredVia: text("delivered_via", { enum: ["websocket", "webhook", "poll"] }),
    createdAt: text("created_at").notNull(),
    deliveredAt: text("delivered_at"),
  },
  (t) => [
    index("outbox_agent_status").on(t.agentId, t.status, t.id),
    index("outbox_due").on(t.status, t.nextAttemptAt),
    index("outbox_delivered").on(t.status, t.deliveredAt), // retention: delivered events past --keep-deliveries (ops/retention.ts)
    // People's list of events by status, newest first (GET /api/deliveries).
    index("outbox_status").on(t.status, t.id),
  ],
);

// Small server-wide values kept across restarts (e.g. the VAPID key pair for Web Push).
export const serverSettings = sqliteTable("server_settings", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  createdAt: text("created_at").notNull(),
});

// A person's devices: one browser push subscription each (Web Push, RFC 8030).
export const pushSubscriptions = sqliteTable(
  "push_subscriptions",
  {
    id: text("id").primaryKey(), // psub_
    userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    endpoint: text("endpoint").notNull().unique(), // the push service's URL for this browser: a capability, never shown to others
    p256dh: text("p256dh").notNull(), // the browser's P-256 public key, base64url
    auth: text("auth").notNull(), // 16-byte auth secret, base64url
    name: text("name").notNull(),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    lastSuccessAt: text("last_success_at"),
    lastError: text("last_error"),
  },
  (t) => [index("push_subscriptions_user").on(t.userId)],
);

// What each person wants pushed besides requests (which always are).
export const pushSettings = sqliteTable("push_settings", {
  userId: text("user_id").primaryKey().references(() => users.id, { onDelete: "cascade" }),
  messages: integer("messages", { mode: "boolean" }).notNull().default(true),
  failedRuns: integer("failed_runs", { mode: "boolean" }).notNull().default(true),
  mutedAgents: text("muted_agents", { mode: "json" }).$type<string[]>().notNull().default([]),
  updatedAt: text("updated_at").notNull(),
});

// The durable push queue: one row per device and tag (a request, a conversation,
// a task…), written in the same transaction as the change it tells of. A newer
// notice for the same tag replaces the payload (version+1) so a device gets the
// latest state once. A request's row stays behind as "sent": it is how nod knows
// which devices to tell when the request is answered.
export const pushQueue = sqliteTable(
  "push_queue",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    subscriptionId: text("subscription_id").notNull().references(() => pushSubscriptions.id, { onDelete: "cascade" }),
    origin: text("origin").notNull(), // the push service (endpoint origin): in-flight limits are per origin
    tag: text("tag").notNull(),
    kind: text("kind", { enum: ["request", "resolved", "message", "run", "test"] }).notNull(),
    payload: text("payload").notNull(), // the JSON the service worker gets, before encryption
    urgency: text("urgency", { enum: ["very-low", "low", "normal", "high"] }).notNull(),
    ttl: integer("ttl").notNull(), // seconds the push service keeps it for an offline device
    status: text("status", { enum: ["pending", "sent"] }).notNull().default("pending"),
    version: integer("version").notNull().default(1),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: text("next_attempt_at").notNull(), // due time; a taken row is leased until its attempt times out
    lastError: text("last_error"),
    createdAt: text("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("push_queue_sub_tag").on(t.subscriptionId, t.tag),
    index("push_queue_due").on(t.status, t.nextAttemptAt),
    index("push_queue_tag").on(t.tag),
  ],
);

// Images agents send (media/store.ts). On SQLite they are files in DATA/media
// and this table stays empty; on PostgreSQL, where instances share no disk,
// each image is a row here. The name is the one in its URL: <32 hex>.<ext>.
export const media = sqliteTable("media", {
  name: text("name").primaryKey(),
  mime: text("mime").notNull(),
  bytes: blob("bytes", { mode: "buffer" }).notNull(),
  createdAt: text("created_at").notNull(),
});
