// Who drives an agent's webhook lane (one POST in flight, oldest event first:
// dispatcher.ts) when several nod instances share one PostgreSQL database: a
// lease row in delivery_lanes. It is taken with INSERT … ON CONFLICT … WHERE
// the holder is this instance or its lease ran out, so under READ COMMITTED
// two instances taking it at once get it once (the second waits for the
// first's row and finds it held). The holder renews it before each POST and
// deletes it when the lane is empty; a dead instance's leases go with its row
// (cluster.ts), or run out.
//
// On SQLite there is one process: every lane is its own (soloLanes).
import { and, eq, sql } from "drizzle-orm";
import type { Writer } from "../db/unit-of-work.ts";
import { asPg } from "../db/pg-writer.ts";
import { deliveryLanes } from "../db/schema-cluster.ts";

export interface LaneLeases {
  /** Whether other instances may drive lanes too (then the lane is read again after its lease is let go). */
  readonly shared: boolean;
  /** Takes (or renews) the agent's lane; false when another instance holds it. */
  take(agentId: string): Promise<boolean>;
  /** Lets the lane go (it is empty, or waits for a retry time). */
  release(agentId: string): Promise<void>;
}

export const soloLanes: LaneLeases = { shared: false, take: async () => true, release: async () => {} };

export class PgLaneLeases implements LaneLeases {
  readonly shared = true;

  /** leaseMs: longer than one POST may take (its timeout), so a lease renewed before each POST outlasts it. */
  constructor(
    private writer: Writer,
    private instanceId: string,
    private leaseMs: number,
  ) {}

  async take(agentId: string): Promise<boolean> {
    const until = sql`now() + ${`${this.leaseMs} milliseconds`}::interval`;
    try {
      return await this.writer.now(async (uow) => {
        const rows = await asPg(uow.db)
          .insert(deliveryLanes)
          .values({ agentId, instanceId: this.instanceId, until })
          .onConflictDoUpdate({
            target: deliveryLanes.agentId,
            set: { instanceId: this.instanceId, until },
            setWhere: sql`${deliveryLanes.until} < now() OR ${deliveryLanes.instanceId} = ${this.instanceId}`,
          })
          .returning({ agentId: deliveryLanes.agentId });
        return rows.length === 1;
      });
    } catch {
      return false; // the agent was deleted meanwhile, or the database is closing: no POST
    }
  }

  async release(agentId: string) {
    await this.writer
      .now(async (uow) => {
        await asPg(uow.db)
          .delete(deliveryLanes)
          .where(and(eq(deliveryLanes.agentId, agentId), eq(deliveryLanes.instanceId, this.instanceId)));
      })
      .catch(() => {}); // closing: the lease runs out by itself
  }
}
