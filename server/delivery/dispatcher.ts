// Drains the outbox to agents. Filled in by the real-time work (issue 3):
// WebSocket push, then webhook with retries, else the row waits.
import type { Ctx, Dispatcher } from "../context.ts";

export class OutboxDispatcher implements Dispatcher {
  constructor(private ctx: Ctx) {}
  wake(_agentId: string) {}
  start() {}
  async stop() {}
}
