// Which agents have an authenticated WebSocket open right now (in memory:
// after a restart every agent is offline until it reconnects).
export class Presence {
  private sockets = new Map<string, number>();

  isOnline(agentId: string) {
    return (this.sockets.get(agentId) ?? 0) > 0;
  }
  /** Returns true when this made the agent go online. */
  add(agentId: string): boolean {
    const n = (this.sockets.get(agentId) ?? 0) + 1;
    this.sockets.set(agentId, n);
    return n === 1;
  }
  /** Returns true when this made the agent go offline. */
  remove(agentId: string): boolean {
    const n = (this.sockets.get(agentId) ?? 0) - 1;
    if (n <= 0) this.sockets.delete(agentId);
    else this.sockets.set(agentId, n);
    return n <= 0;
  }
  onlineCount() {
    return this.sockets.size;
  }
  /** The ids of every agent online now (for the inbox's hello frame). */
  onlineIds(): string[] {
    return [...this.sockets.keys()];
  }
}
