// The open, authenticated agent sockets, by agent id. The delivery path sends
// to them directly (so it knows whether a push happened); people's actions
// (delete agent, rotate secret) close them. An agent is online while it has
// at least one (in memory: after a restart every agent is offline until it
// reconnects), so this is also the server's presence.
import type { Presence } from "../context.ts";
export interface AgentSocket {
  send(text: string): number; // Bun's ServerWebSocket.send: bytes sent, 0 dropped, -1 backpressure
  close(code?: number, reason?: string): void;
  readonly readyState?: number; // 1 open
  /** Bytes handed to send() that are still in the process's memory (not yet with the kernel). */
  getBufferedAmount?(): number;
  /** The connection's state (AgentConnection): told which events left the process, to re-queue them if the socket dies. */
  data?: { pushed?(eventId: string): void };
}

export class AgentSockets implements Presence {
  private byAgent = new Map<string, Set<AgentSocket>>();

  /** Returns true when this made the agent go online. */
  add(agentId: string, ws: AgentSocket): boolean {
    let set = this.byAgent.get(agentId);
    if (!set) this.byAgent.set(agentId, (set = new Set()));
    set.add(ws);
    return set.size === 1;
  }
  /** Returns true when this made the agent go offline. */
  remove(agentId: string, ws: AgentSocket): boolean {
    const set = this.byAgent.get(agentId);
    if (!set || !set.delete(ws)) return false;
    if (set.size > 0) return false;
    this.byAgent.delete(agentId);
    return true;
  }
  isOnline(agentId: string) {
    return this.byAgent.has(agentId);
  }
  onlineIds(): string[] {
    return [...this.byAgent.keys()];
  }
  onlineCount() {
    return this.byAgent.size;
  }
  /** The agents with a socket held by this process. */
  heldIds(): string[] {
    return [...this.byAgent.keys()];
  }
  /** The most recently authenticated socket of the agent: events go there. */
  newest(agentId: string): AgentSocket | undefined {
    const set = this.byAgent.get(agentId);
    if (!set) return undefined;
    let last: AgentSocket | undefined;
    for (const ws of set) last = ws;
    return last;
  }
  has(agentId: string) {
    return this.byAgent.has(agentId);
  }
  get(agentId: string): AgentSocket[] {
    return [...(this.byAgent.get(agentId) ?? [])];
  }
  /** Closes every socket of the agent (its credentials changed or it was deleted). */
  disconnect(agentId: string, code = 4003, reason = "credentials revoked") {
    for (const ws of this.get(agentId)) ws.close(code, reason);
  }
  /** Closes every agent socket (the server is stopping). */
  closeAll(code = 1001, reason = "server shutting down") {
    for (const set of this.byAgent.values()) for (const ws of [...set]) ws.close(code, reason);
  }
  count() {
    let n = 0;
    for (const s of this.byAgent.values()) n += s.size;
    return n;
  }
}
