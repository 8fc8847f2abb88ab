// The instances table: each running nod on a PostgreSQL database writes
// itself down at start, renews its heartbeat every few seconds (by the
// database's clock), and deletes itself at a clean stop. An instance whose
// heartbeat is older than deadAfterMs is dead: any live one deletes it, with
// its agent sockets (the agents it held go offline, their events to webhooks
// or the next socket) and its webhook lanes (ON DELETE CASCADE).
import { and, eq, inArray, lt, ne, sql } from "drizzle-orm";
import type { Db } from "./index.ts";
import { asPg } from "./pg-writer.ts";
import { agentSockets, deliveryLanes, instances } from "./schema-cluster.ts";
import type { SocketChange } from "./unit-of-work.ts";

/** Tunable by tests; an instance beats every 5 s and counts as dead after 20 s without one. */
export const INSTANCE_TIMES = { heartbeatMs: 5_000, deadAfterMs: 20_000 };

const stale = () => sql`now() - ${`${INSTANCE_TIMES.deadAfterMs} milliseconds`}::interval`;

/** Writes the instance down (again, if it was taken for dead meanwhile). */
export async function registerInstance(db: Db, id: string, name: string) {
  await asPg(db)
    .insert(instances)
    .values({ id, name, startedAt: sql`now()`, heartbeatAt: sql`now()` })
    .onConflictDoUpdate({ target: instances.id, set: { heartbeatAt: sql`now()` } });
}

/** Renews the heartbeat; false when the row is gone (another instance took this one for dead). */
export async function heartbeat(db: Db, id: string): Promise<boolean> {
  const rows = await asPg(db).update(instances).set({ heartbeatAt: sql`now()` }).where(eq(instances.id, id)).returning({ id: instances.id });
  return rows.length === 1;
}

/** A clean stop: the instance and, with it, its sockets' rows and lanes; returns the sockets that went. */
export async function removeInstance(db: Db, id: string): Promise<SocketChange[]> {
  const gone = await asPg(db).delete(agentSockets).where(eq(agentSockets.instanceId, id)).returning();
  await asPg(db).delete(instances).where(eq(instances.id, id));
  return gone.map((s) => ({ agentId: s.agentId, sessionId: s.sessionId, instanceId: s.instanceId, openedAt: null }));
}

/**
 * Deletes the dead instances (other than self), their sockets and their
 * webhook lanes, inside the caller's unit of work; returns the sockets that
 * went and the agents whose lane was let go. The dead rows are locked first:
 * a heartbeat that comes in meanwhile waits and then finds its row gone (and
 * writes itself and its sockets down again), and a second instance reaping at
 * once finds nothing left to delete.
 */
export async function reapDeadInstances(db: Db, self: string): Promise<{ sockets: SocketChange[]; lanes: string[] }> {
  const pg = asPg(db);
  const dead = await pg
    .select({ id: instances.id })
    .from(instances)
    .where(and(lt(instances.heartbeatAt, stale()), ne(instances.id, self)))
    .for("update");
  if (!dead.length) return { sockets: [], lanes: [] };
  const ids = dead.map((d) => d.id);
  const gone = await pg.delete(agentSockets).where(inArray(agentSockets.instanceId, ids)).returning();
  const lanes = await pg.delete(deliveryLanes).where(inArray(deliveryLanes.instanceId, ids)).returning({ agentId: deliveryLanes.agentId });
  await pg.delete(instances).where(inArray(instances.id, ids));
  return {
    sockets: gone.map((s) => ({ agentId: s.agentId, sessionId: s.sessionId, instanceId: s.instanceId, openedAt: null })),
    lanes: lanes.map((l) => l.agentId),
  };
}

/** Of these agents, those that still have a socket on some instance. */
export async function stillOnline(db: Db, agentIds: string[]): Promise<Set<string>> {
  if (!agentIds.length) return new Set();
  const rows = await asPg(db).selectDistinct({ agentId: agentSockets.agentId }).from(agentSockets).where(inArray(agentSockets.agentId, agentIds));
  return new Set(rows.map((r) => r.agentId));
}

/** The sockets other live instances hold (a dead instance's rows are left out before they are deleted). */
export async function liveSocketsElsewhere(db: Db, self: string): Promise<SocketChange[]> {
  const rows = await asPg(db)
    .select({ agentId: agentSockets.agentId, sessionId: agentSockets.sessionId, instanceId: agentSockets.instanceId, openedAt: agentSockets.openedAt })
    .from(agentSockets)
    .innerJoin(instances, eq(instances.id, agentSockets.instanceId))
    .where(and(ne(agentSockets.instanceId, self), sql`${instances.heartbeatAt} >= ${stale()}`));
  return rows;
}
