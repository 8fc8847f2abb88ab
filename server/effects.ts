// Where committed effects go (see db/unit-of-work.ts): frames to the open
// inboxes, a wake for each agent with new outbox rows, long-polls of settled
// requests, sockets to close, the doorbells of the scheduler, the expiry
// loop and the push sender. This is the only place that knows every live piece of the server.
import type { EffectSink } from "./db/unit-of-work.ts";
import type { Ctx } from "./context.ts";
import { dropShared } from "./db/store-cache.ts";
import type { Hub } from "./realtime/hub.ts";
import type { AgentSockets } from "./realtime/sockets.ts";
import type { InboxSockets } from "./realtime/inbox-socket.ts";
import type { OutboxDispatcher } from "./delivery/dispatcher.ts";
import type { TaskScheduler } from "./tasks/scheduler.ts";
import type { DecisionExpiry } from "./decisions/expiry.ts";
import type { PushSender } from "./push/sender.ts";
import type { SocketBudget } from "./ops/socket-budget.ts";
import type { Retention } from "./ops/retention.ts";
import { endAllLongPolls, settleLongPolls } from "./decisions/long-poll.ts";

/** The live pieces of one server. */
export interface Live {
  hub: Hub;
  agentSockets: AgentSockets;
  inboxSockets: InboxSockets;
  dispatcher: OutboxDispatcher;
  scheduler: TaskScheduler;
  expiry: DecisionExpiry;
  push: PushSender;
  budget: SocketBudget;
  retention: Retention;
}

/** wentOffline: an agent that went offline unannounced (two last sockets closed at once on two instances), told to this instance's inboxes here. */
export function effectSink(live: Live, wentOffline: (agentId: string) => void = () => {}): EffectSink {
  return (e) => {
    // Other instances' sockets first (reaped ones too): who receives an agent's events may have changed.
    const sockets = live.agentSockets.remoteChanged(e.sockets);
    for (const agentId of sockets.woken) live.dispatcher.wake(agentId);
    for (const agentId of sockets.offline) {
      wentOffline(agentId);
      live.hub.toInbox({ type: "agent_status", agent_id: agentId, online: false });
    }
    for (const frame of e.inbox) live.hub.toInbox(frame);
    for (const agentId of e.deliver) live.dispatcher.wake(agentId);
    for (const agentId of e.redeliver) live.dispatcher.redeliver(agentId);
    for (const id of e.settled) settleLongPolls(id);
    for (const c of e.closeAgents) live.agentSockets.disconnect(c.agentId, c.code, c.reason);
    for (const token of e.closeSessions) live.inboxSockets.closeSession(token);
    if (e.tasksChanged) live.scheduler.poke();
    if (e.expiryChanged) live.expiry.poke();
    if (e.pushQueued) live.push.wake();
  };
}

/**
 * Effects another instance on the same PostgreSQL database committed
 * (db/pg-fanout.ts): its cache entries are dropped here too, its "Thinking…"
 * indicators noted, then they go where this instance's own do. An agent woken
 * there is pushed to here only when its socket is held here: the instance
 * that committed the event takes its webhook (or the lane's holder does,
 * delivery/lanes-pg.ts).
 */
export function remoteEffectSink(live: Live, ctx: Pick<Ctx, "db" | "processing">): EffectSink {
  // An agent offline with nobody having said so: its "Thinking…" indicators end, as its closing socket's would.
  const local = effectSink(live, (agentId) => {
    ctx.processing.stopAgent(agentId);
    ctx.processing.heard({ type: "agent_status", agent_id: agentId, online: false });
  });
  const held = (ids: Set<string>) => new Set([...ids].filter((id) => live.agentSockets.has(id)));
  return (e) => {
    dropShared(ctx.db, e.forget);
    for (const frame of e.inbox) ctx.processing.heard(frame); // "Thinking…" there, for a new inbox's hello here
    local({ ...e, deliver: held(e.deliver), redeliver: held(e.redeliver) });
  };
}

/**
 * The notifications of other instances were not heard for a while (the
 * LISTEN connection dropped and came back): what they announced meanwhile
 * is looked at again. Inboxes get a new "hello" (the app refetches), the
 * agents whose sockets are held here get their queue read, long-polls re-read
 * their request (they answer, and their clients ask again).
 */
export function resyncAfterGap(live: Live) {
  live.inboxSockets.helloAgain();
  for (const agentId of live.agentSockets.heldIds()) live.dispatcher.redeliver(agentId);
  endAllLongPolls();
}
