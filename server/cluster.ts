// Running beside other nod instances on one PostgreSQL database (docs/scale.md
// "Several instances"). Each instance has an id (ins_…, new at every start);
// what one commits reaches the others' sockets and loops (db/pg-fanout.ts).
// On SQLite there is one process and none of this runs.
import type { Ctx } from "./context.ts";
import type { Store } from "./db/store.ts";
import { PgWriter } from "./db/pg-writer.ts";
import { PgFanout } from "./db/pg-fanout.ts";
import { timeId } from "./lib/ids.ts";
import { remoteEffectSink, resyncAfterGap, type Live } from "./effects.ts";

/** How often rows of large effects that every instance has read are deleted. */
const PRUNE_EVERY_MS = 60_000;

export interface Cluster {
  instanceId: string;
  fanout: PgFanout;
  stop(): Promise<void>;
}

/** Starts sharing effects with the other instances; null on SQLite. */
export async function joinCluster(ctx: Ctx, live: Live, store: Store): Promise<Cluster | null> {
  if (store.dialect !== "pg" || !(ctx.writer instanceof PgWriter)) return null;
  const writer = ctx.writer;
  const instanceId = timeId("ins_");
  const fanout = new PgFanout(ctx.db, instanceId, (what, e) => ctx.log.error(what, { error: e as Error }));
  await fanout.listen(remoteEffectSink(live, ctx.db), () => {
    ctx.log.warn("the connection that hears other instances came back: resynchronising");
    resyncAfterGap(live);
  });
  writer.shareWith(fanout);
  const pruner = setInterval(() => fanout.prune().catch((e) => ctx.log.warn("pruning shared effects failed", { error: e as Error })), PRUNE_EVERY_MS);
  pruner.unref?.();
  return {
    instanceId,
    fanout,
    async stop() {
      clearInterval(pruner);
      await fanout.stop();
    },
  };
}
