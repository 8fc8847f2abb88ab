// Running beside other nod instances on one PostgreSQL database (docs/scale.md
// "Several instances"). Each instance has an id (ins_…, new at every start)
// and a row in `instances` it keeps alive with a heartbeat; what one commits
// reaches the others' sockets and loops (db/pg-fanout.ts); the agent sockets
// each holds are in agent_sockets (realtime/presence-pg.ts). Every heartbeat
// also deletes the instances that stopped beating (db/pg-instances.ts): their
// agents go offline and their events on to webhooks or the next socket.
// On SQLite there is one process and none of this runs.
import type { Ctx } from "./context.ts";
import type { Store } from "./db/store.ts";
import { PgWriter } from "./db/pg-writer.ts";
import { PgFanout } from "./db/pg-fanout.ts";
import { heartbeat, INSTANCE_TIMES, liveSocketsElsewhere, reapDeadInstances, registerInstance, removeInstance, stillOnline } from "./db/pg-instances.ts";
import { PgSocketDirectory, RemoteSockets } from "./realtime/presence-pg.ts";
import { PgLaneLeases } from "./delivery/lanes-pg.ts";
import { instanceName } from "./config.ts";
import { timeId } from "./lib/ids.ts";
import { remoteEffectSink, resyncAfterGap, type Live } from "./effects.ts";

/** How often rows of large effects that every instance has read are deleted. */
const PRUNE_EVERY_MS = 60_000;
/** How often the other instances' sockets are read again (a notification may have been missed). */
const RELOAD_EVERY_MS = 15_000;

export interface Cluster {
  instanceId: string;
  fanout: PgFanout;
  /** One heartbeat now: renews this instance, deletes dead ones (tests call it instead of waiting). */
  beat(): Promise<void>;
  stop(): Promise<void>;
}

/** Joins the instances on the database: writes this one down, hears the others; null on SQLite. */
export async function joinCluster(ctx: Ctx, live: Live, store: Store): Promise<Cluster | null> {
  if (store.dialect !== "pg" || !(ctx.writer instanceof PgWriter)) return null;
  const { writer, log } = ctx;
  const instanceId = timeId("ins_");
  const name = instanceName(ctx.config);
  const fanout = new PgFanout(ctx.db, instanceId, (what, e) => log.error(what, { error: e as Error }));
  const directory = new PgSocketDirectory(writer, instanceId, log);
  live.agentSockets.share(new RemoteSockets(instanceId), directory);
  // A lane's lease outlasts one POST (its timeout) with room to spare: it is renewed before each.
  live.dispatcher.shareLanes(new PgLaneLeases(writer, instanceId, ctx.config.webhookTimeoutMs + 30_000));
  await writer.now(async (uow) => registerInstance(uow.db, instanceId, name));

  // Applied in the order heard; a reload waits for the notifications heard before it.
  const reload = () =>
    fanout.serially(async () => {
      const since = live.agentSockets.remoteVersion();
      for (const agentId of live.agentSockets.reloadRemote(await liveSocketsElsewhere(ctx.db, instanceId), since)) live.dispatcher.wake(agentId);
    });
  await fanout.listen(remoteEffectSink(live, ctx), () => {
    log.warn("the connection that hears other instances came back: resynchronising");
    resyncAfterGap(live);
    reload().catch((e) => log.warn("reading other instances' sockets failed", { error: e as Error }));
  });
  writer.shareWith(fanout);
  await reload();

  let lastPrune = Date.now();
  let lastReload = Date.now();
  let beating: Promise<void> | null = null;
  const beatOnce = async () => {
    if (!(await writer.now(async (uow) => heartbeat(uow.db, instanceId)))) {
      // Taken for dead (a pause longer than deadAfterMs): back, and its sockets with it (below).
      log.warn("this instance was taken for dead by another: writing it down again", { instance: instanceId });
      await writer.now(async (uow) => registerInstance(uow.db, instanceId, name));
    }
    // Its rows are the sockets it holds: all of them again after it was taken for dead, or one whose write failed.
    await directory.reconcile(() => live.agentSockets.held());
    await writer.now(async (uow) => {
      const gone = await reapDeadInstances(uow.db, instanceId);
      for (const agentId of gone.lanes) uow.redeliver(agentId); // its webhook lanes pass on now, not when their leases run out
      if (!gone.sockets.length) return;
      for (const c of gone.sockets) uow.socketChanged(c);
      const agents = [...new Set(gone.sockets.map((c) => c.agentId))];
      const online = await stillOnline(uow.db, agents);
      for (const agentId of agents) {
        uow.redeliver(agentId); // what the dead instance was pushing goes to a webhook, or the agent's next socket
        if (!online.has(agentId)) uow.toInbox({ type: "agent_status", agent_id: agentId, online: false });
      }
      log.info("instances stopped beating: removed", { agents_offline: agents.length - online.size });
    });
    const now = Date.now();
    if (now - lastReload >= RELOAD_EVERY_MS) {
      lastReload = now;
      await reload();
    }
    if (now - lastPrune >= PRUNE_EVERY_MS) {
      lastPrune = now;
      await fanout.prune();
    }
  };
  const beat = () =>
    (beating ??= beatOnce()
      .catch((e) => log.warn("instance heartbeat failed", { error: e as Error }))
      .finally(() => (beating = null)));
  const timer = setInterval(beat, INSTANCE_TIMES.heartbeatMs);
  timer.unref?.();

  return {
    instanceId,
    fanout,
    beat,
    async stop() {
      clearInterval(timer);
      await beating;
      // Its sockets and lanes go with its row; the others hear which sockets went.
      await writer
        .now(async (uow) => {
          for (const c of await removeInstance(uow.db, instanceId)) uow.socketChanged(c);
        })
        .catch((e) => log.warn("removing this instance from the database failed", { error: e as Error }));
      writer.shareWith(null);
      await fanout.stop();
    },
  };
}
