// What every service gets: configuration, the database and its write path,
// the logger, metrics and the clock, plus two live views it may read
// (presence, the "Thinking…" indicators). One per running server; tests make
// as many as they like. Sockets, delivery and the scheduler are not here:
// services reach them only through the effects of a unit of work.
import type { Config } from "./config.ts";
import type { Db } from "./db/index.ts";
import type { Writer } from "./db/unit-of-work.ts";
import type { Logger } from "./lib/log.ts";
import type { Metrics } from "./metrics.ts";
import type { ProcessingIndicators } from "./conversations/processing.ts";

/** Which agents have a socket open (realtime/sockets.ts keeps it). */
export interface Presence {
  isOnline(agentId: string): boolean;
  onlineIds(): string[];
  onlineCount(): number;
}

export interface Ctx {
  config: Config;
  db: Db;
  /** The one write path: units of work, group commit, effects after commit. */
  writer: Writer;
  log: Logger;
  metrics: Metrics;
  presence: Presence;
  processing: ProcessingIndicators;
  /** The current time in ms; tests inject a fake clock to drive the scheduler. */
  now: () => number;
}
