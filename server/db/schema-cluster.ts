// Tables that only PostgreSQL has: the state several nod instances on one
// database share while they run (docs/scale.md "Several instances"). SQLite
// has one process, so they have no counterpart in schema.ts, nothing to copy
// in `nod migrate --from-sqlite`, and test/pg-schema.test.ts compares
// schema-pg.ts alone with schema.ts (it checks these in the catalog too).
// drizzle-pg.config.ts generates drizzle-pg/ from both files.
//
// Times here are timestamptz set by the database's own clock (now()): an
// instance is alive or dead by one clock, whatever the hosts' clocks say.
import { bigint, index, pgTable, timestamp } from "drizzle-orm/pg-core";
import { agents, text } from "./schema-pg.ts";

const at = (name: string) => timestamp(name, { withTimezone: true, mode: "string" });

/** A running nod process: it renews heartbeat_at every few seconds; a live one deletes those whose heartbeat is stale. */
export const instances = pgTable("instances", {
  id: text("id").primaryKey(), // ins_
  name: text("name").notNull(), // --instance, or the host name
  startedAt: at("started_at").notNull(),
  heartbeatAt: at("heartbeat_at").notNull(),
});

/**
 * The effects of one committed batch (or a group of announcements) too large
 * for a NOTIFY's 8,000 bytes: the notification carries this row's id, the
 * other instances read it. Rows older than a few minutes are pruned.
 */
export const effects = pgTable(
  "effects",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    instanceId: text("instance_id").notNull(),
    body: text("body").notNull(), // the effects as JSON (server/db/pg-fanout.ts)
    createdAt: at("created_at").notNull(),
  },
  (t) => [index("effects_created").on(t.createdAt)],
);

/** An authenticated agent socket, held by one instance (the agent is online while it has one on a live instance). */
export const agentSockets = pgTable(
  "agent_sockets",
  {
    sessionId: text("session_id").primaryKey(), // sess_ (the auth_ok's session_id)
    agentId: text("agent_id").notNull().references(() => agents.id, { onDelete: "cascade" }),
    instanceId: text("instance_id").notNull().references(() => instances.id, { onDelete: "cascade" }),
    // When it authenticated, by the holder's clock in ms: the newest socket of an agent receives its events.
    openedAt: bigint("opened_at", { mode: "number" }).notNull(),
  },
  (t) => [index("agent_sockets_agent").on(t.agentId), index("agent_sockets_instance").on(t.instanceId)],
);

/**
 * Who drives an agent's webhook lane (one POST in flight, oldest event first)
 * until `until`: taken when free or expired, renewed while working, deleted
 * when the lane is empty; a dead instance's lanes go with its row.
 */
export const deliveryLanes = pgTable("delivery_lanes", {
  agentId: text("agent_id")
    .primaryKey()
    .references(() => agents.id, { onDelete: "cascade" }),
  instanceId: text("instance_id")
    .notNull()
    .references(() => instances.id, { onDelete: "cascade" }),
  until: at("until").notNull(),
});
