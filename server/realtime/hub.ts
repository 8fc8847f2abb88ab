// Fan-out to open inbox sockets through Bun's publish/subscribe: each frame is
// serialized once and Bun copies it to every subscriber, no loop over sockets.
// nod has one shared team inbox (every signed-in person sees every agent), so
// all inbox sockets subscribe to INBOX_TOPIC. Agents' sockets are not here:
// deliveries go to one socket each (delivery/dispatcher.ts).
import type { Server } from "bun";
import type { InboxFrame } from "../db/unit-of-work.ts";

export const INBOX_TOPIC = "inbox";

export class Hub {
  private server: Server<unknown> | null = null;

  attach(server: Server<unknown>) {
    this.server = server;
  }
  detach() {
    this.server = null;
  }

  /** Sends a frame to every open inbox socket. */
  toInbox(frame: InboxFrame) {
    // With no inbox open there is nobody to serialize for.
    if (this.server && this.server.subscriberCount(INBOX_TOPIC) > 0) this.server.publish(INBOX_TOPIC, JSON.stringify(frame));
  }

  subscriberCount(topic: string) {
    return this.server?.subscriberCount(topic) ?? 0;
  }
}
