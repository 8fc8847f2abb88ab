// Fan-out to open sockets through Bun's publish/subscribe topics: each frame is
// serialized once and Bun copies it to every subscriber, no loop over sockets.
//
// nod has one shared team inbox: every signed-in person sees every agent, so
// all inbox sockets subscribe to INBOX_TOPIC. An agent's socket subscribes to
// agentTopic(id) and receives only its own events.
import type { Server } from "bun";

export const INBOX_TOPIC = "inbox";
export const agentTopic = (agentId: string) => `agent:${agentId}`;

export interface InboxFrame {
  type: string;
  [key: string]: unknown;
}

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

  /** Publishes already-serialized text on a topic; returns false when nobody was listening. */
  publish(topic: string, text: string): boolean {
    if (!this.server) return false;
    return this.server.publish(topic, text) > 0;
  }

  subscriberCount(topic: string) {
    return this.server?.subscriberCount(topic) ?? 0;
  }
}
