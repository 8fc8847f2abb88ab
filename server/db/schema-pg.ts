// The same database as schema.ts, for PostgreSQL. `bun run db:generate` turns
// changes here into a migration under drizzle-pg/ (embedded in the binary like
// drizzle/). test/pg-schema.test.ts keeps the two files in step: every table,
// column, index and foreign key of one is in the other, with the same
// nullability and defaults.
//
// Types, chosen so that the services behave the same on both databases:
// - Every text column is `text COLLATE "C"`: byte order, like SQLite's BINARY.
//   Ids are time-ordered strings, so "newest first", `?before=ID` paging and
//   due-time comparisons are string comparisons; a locale collation (the
//   database default is often en_US.UTF-8) would order `B` after `a` and ignore
//   punctuation. Stating it per column makes it hold on any database.
// - Times stay ISO 8601 UTC text with a trailing Z (as in SQLite), not
//   timestamptz: the services compare and page on them as strings, the API
//   returns them as they are stored, and a migrated SQLite row copies as is.
// - Booleans are boolean; the JSON columns are json (not jsonb): they are only
//   written and read whole, and json keeps the text (and key order) as written.
//   Values go to the driver as they are (see json below).
// - Bytes (media.bytes) are bytea.
// - push_queue.id is a bigint (SQLite's integers are 64-bit) identity column
//   BY DEFAULT, so `nod migrate --from-sqlite` can copy the ids (and then
//   moves the sequence past them). Counters stay integer.
import { sql } from "drizzle-orm";
import { pgTable, customType, bigint, boolean, integer, index, primaryKey, uniqueIndex } from "drizzle-orm/pg-core";

const collatedText = customType<{ data: string; driverData: string }>({ dataType: () => 'text COLLATE "C"' });

/** PostgreSQL `text COLLATE "C"`; `{ enum }` narrows the TypeScript type only, like sqlite-core's text (no CHECK). */
export function text<N extends string, const E extends readonly string[] = string[]>(name: N, _config?: { enum: E }) {
  return collatedText(name).$type<E[number]>();
}

/** PostgreSQL `bytea`: Bun.sql takes and gives a Buffer, as bun:sqlite does for a blob. */
export const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => "bytea" });

/**
 * PostgreSQL `json`, handed to the driver as the value itself. Bun.sql (nod's
 * driver, bench/pg-driver.ts) JSON-encodes every parameter of a json column,
 * strings included: drizzle's json() passes it JSON.stringify's output, which
 * would be stored as one JSON string ("[\"a\"]"), not as the array.
 * Reads come back parsed from the driver.
 */
export const json = customType<{ data: unknown; driverData: unknown }>({ dataType: () => "json", toDriver: (v) => v, fromDriver: (v) => v });

export const users = pgTable("users", {
  id: text("id").primaryKey(), // usr_
  username: text("username").notNull().unique(),
  passwordHash: text("password_hash").notNull(),
  createdAt: text("created_at").notNull(),
});

// A signed-in browser. The cookie holds a random token; only its SHA-256 is stored.
export const sessions = pgTable(
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
export const authLimits = pgTable(
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
export const authKnownAddresses = pgTable(
  "auth_known_addresses",
  {
    userKey: text("user_key").notNull(), // the username, trimmed and lowercased
    address: text("address").notNull(),
    lastAt: text("last_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userKey, t.address] }), index("auth_known_addresses_recent").on(t.userKey, t.lastAt)],
);

export const agents = pgTable(
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
  (t) => [index("agents_created").on(t.createdAt)],
);

export const conversations = pgTable(
  "conversations",
  {
    id: text("id").primaryKey(), // conv_
    agentId: text("agent_id").notNull().references(() => agents.id, { onDelete: "cascade" }),
    title: text("title").notNull(),
    isDefault: boolean("is_default").notNull().default(false),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    // Agent and task messages no person has opened yet (see schema.ts).
    unread: integer("unread").notNull().default(0),
    unreadSince: text("unread_since"), // the first unread message's id (see schema.ts)
  },
  (t) => [
    index("conversations_agent").on(t.agentId, t.updatedAt),
    index("conversations_unread").on(t.agentId, t.unread).where(sql`unread > 0`),
  ],
);

export const messages = pgTable(
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

export const decisions = pgTable(
  "decisions",
  {
    id: text("id").primaryKey(), // dec_
    agentId: text("agent_id").notNull().references(() => agents.id, { onDelete: "cascade" }),
    conversationId: text("conversation_id"),
    taskRunId: text("task_run_id"),
    kind: text("kind", { enum: ["approval", "choice", "question", "permission"] }).notNull(),
    title: text("title").notNull(),
    description: text("description").notNull().default(""),
    options: json("options").$type<string[] | null>(),
    allowsAlways: boolean("allows_always").notNull().default(false),
    alwaysAllowLabel: text("always_allow_label"),
    alwaysAllowOptions: json("always_allow_options").$type<{ pattern: string; label: string }[] | null>(),
    // A task proposal is an approval whose approval creates this task.
    proposal: json("proposal").$type<{ task_name: string; task_prompt: string; task_schedule: string; timezone?: string } | null>(),
    // expired: nobody answered by expires_at; cancelled: the agent withdrew it.
    status: text("status", { enum: ["pending", "approved", "rejected", "responded", "dismissed", "expired", "cancelled"] }).notNull().default("pending"),
    note: text("note"),
    alwaysAllow: boolean("always_allow").notNull().default(false),
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
    // The expiry loop's due list: only pending requests with a due time are in it.
    index("decisions_expiry").on(t.expiresAt).where(sql`status = 'pending' AND expires_at IS NOT NULL`),
    index("decisions_pending").on(t.agentId, t.id).where(sql`status = 'pending'`),
  ],
);

export const activity = pgTable(
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

export const tasks = pgTable(
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
    enabled: boolean("enabled").notNull().default(true),
    nextRunAt: text("next_run_at"), // the scheduler's truth; null when nothing is scheduled
    lastRunStatus: text("last_run_status"),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [index("tasks_agent").on(t.agentId), index("tasks_next_run").on(t.enabled, t.nextRunAt)],
);

export const taskRuns = pgTable(
  "task_runs",
  {
    id: text("id").primaryKey(), // run_
    taskId: text("task_id").notNull().references(() => tasks.id, { onDelete: "cascade" }),
    agentId: text("agent_id").notNull().references(() => agents.id, { onDelete: "cascade" }),
    status: text("status", { enum: ["due", "running", "completed", "failed"] }).notNull(),
    trigger: text("trigger", { enum: ["schedule", "manual", "event", "agent"] }).notNull(),
    triggerEventId: text("trigger_event_id"), // evt_ for event runs (pending triggers)
    payload: json("payload").$type<unknown>(),
    summary: text("summary"),
    createdAt: text("created_at").notNull(), // when it became due / was received
    startedAt: text("started_at"),
    finishedAt: text("finished_at"),
  },
  (t) => [
    index("task_runs_task").on(t.taskId, t.id),
    index("task_runs_agent_status").on(t.agentId, t.status),
    index("task_runs_finished").on(t.finishedAt), // retention: finished runs past --keep-runs (ops/retention.ts)
    index("task_runs_open").on(t.createdAt).where(sql`status IN ('due', 'running')`),
  ],
);

export const runContext = pgTable(
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
export const outbox = pgTable(
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
    index("outbox_status").on(t.status, t.id),
  ],
);

// Small server-wide values kept across restarts (e.g. the VAPID key pair for Web Push).
export const serverSettings = pgTable("server_settings", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  createdAt: text("created_at").notNull(),
});

// A person's devices: one browser push subscription each (Web Push, RFC 8030).
export const pushSubscriptions = pgTable(
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
export const pushSettings = pgTable("push_settings", {
  userId: text("user_id").primaryKey().references(() => users.id, { onDelete: "cascade" }),
  messages: boolean("messages").notNull().default(true),
  failedRuns: boolean("failed_runs").notNull().default(true),
  mutedAgents: json("muted_agents").$type<string[]>().notNull().default([]),
  updatedAt: text("updated_at").notNull(),
});

// The durable push queue: one row per device and tag (a request, a conversation,
// a task…), written in the same transaction as the change it tells of. A newer
// notice for the same tag replaces the payload (version+1) so a device gets the
// latest state once. A request's row stays behind as "sent": it is how nod knows
// which devices to tell when the request is answered.
export const pushQueue = pgTable(
  "push_queue",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedByDefaultAsIdentity(),
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

// Images agents send: here on PostgreSQL, files in DATA/media on SQLite (see schema.ts).
export const media = pgTable("media", {
  name: text("name").primaryKey(),
  mime: text("mime").notNull(),
  bytes: bytea("bytes").notNull(),
  createdAt: text("created_at").notNull(),
});
