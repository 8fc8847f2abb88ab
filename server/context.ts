// What every service gets: configuration, the database, the logger and the
// real-time pieces. One per running server; tests make as many as they like.
import type { Config } from "./config.ts";
import type { Db } from "./db/index.ts";
import type { Logger } from "./lib/log.ts";
import type { Hub } from "./realtime/hub.ts";
import type { Presence } from "./realtime/presence.ts";
import type { AgentSockets } from "./realtime/sockets.ts";
import type { InboxSockets } from "./realtime/inbox-socket.ts";
import type { ProcessingIndicators } from "./realtime/processing.ts";
import type { Metrics } from "./metrics.ts";
import type { GroupCommit } from "./db/group-commit.ts";
import type { PushWaker } from "./push/sender.ts";

/** Pushes outbox rows to agents; the real-time module provides it. */
export interface Dispatcher {
  /** Something new is in the outbox for this agent (called after the commit). */
  wake(agentId: string): void;
}

export interface Ctx {
  config: Config;
  db: Db;
  /** Batches the hot paths' writes into shared commits (db/group-commit.ts). */
  writer: GroupCommit;
  log: Logger;
  hub: Hub;
  presence: Presence;
  agentSockets: AgentSockets;
  inboxSockets: InboxSockets;
  processing: ProcessingIndicators;
  delivery: Dispatcher;
  /** Sends the push queue to people's devices; wake() it after committing queued pushes. */
  push: PushWaker;
  metrics: Metrics;
  /** The current time in ms; tests inject a fake clock to drive the scheduler. */
  now: () => number;
}
