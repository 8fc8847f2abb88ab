// The open, authenticated agent sockets, by agent id. The delivery path sends
// to them directly (so it knows whether a push happened); people's actions
// (delete agent, rotate secret) close them. An agent is online while it has
// at least one (in memory: after a restart every agent is offline until it
// reconnects), so this is also the server's presence.
//
// With several instances on one PostgreSQL database, the sockets other
// instances hold are known too (`remote`, kept by realtime/presence-pg.ts):
// an agent is online when it has a socket on any live instance, and the
// newest socket of an agent, wherever it is, receives its events.
import type { Presence } from "../context.ts";
import type { RemoteSockets } from "./presence-pg.ts";
import type { SocketChange } from "../db/unit-of-work.ts";

export interface AgentSocket {
  send(text: string): number; // Bun's ServerWebSocket.send: bytes sent, 0 dropped, -1 backpressure
  close(code?: number, reason?: string): void;
  readonly readyState?: number; // 1 open
  /** Bytes handed to send() that are still in the process's memory (not yet with the kernel). */
  getBufferedAmount?(): number;
  /** The connection's state (AgentConnection): told which events left the process, to re-queue them if the socket dies. */
  data?: { pushed?(eventId: string): void };
}

/** Where sockets are written down for the other instances (presence-pg.ts); nothing on SQLite. */
export interface SocketDirectory {
  opened(agentId: string, sessionId: string, openedAt: number): void;
  /** unannounced: the agent's last socket here, with one on another instance as far as this one knows. */
  closed(agentId: string, sessionId: string, unannounced: boolean): void;
}

interface Held {
  sessionId: string;
  openedAt: number;
}

export class AgentSockets implements Presence {
  private byAgent = new Map<string, Map<AgentSocket, Held>>();
  private remote: RemoteSockets | null = null;
  private directory: SocketDirectory | null = null;

  /** Other instances' sockets, and where this one's are written down (several instances on PostgreSQL). */
  share(remote: RemoteSockets, directory: SocketDirectory) {
    this.remote = remote;
    this.directory = directory;
  }

  /** Returns true when this made the agent go online (it had no socket here nor on another instance). */
  add(agentId: string, ws: AgentSocket, sessionId = "", openedAt = Date.now()): boolean {
    let map = this.byAgent.get(agentId);
    if (!map) this.byAgent.set(agentId, (map = new Map()));
    map.set(ws, { sessionId, openedAt });
    this.directory?.opened(agentId, sessionId, openedAt);
    return map.size === 1 && !this.remote?.has(agentId);
  }
  /** Returns true when this made the agent go offline (its last socket anywhere). */
  remove(agentId: string, ws: AgentSocket): boolean {
    const map = this.byAgent.get(agentId);
    const held = map?.get(ws);
    if (!map || !held) return false;
    map.delete(ws);
    if (map.size === 0) this.byAgent.delete(agentId);
    const elsewhere = map.size === 0 && !!this.remote?.has(agentId);
    this.directory?.closed(agentId, held.sessionId, elsewhere);
    return map.size === 0 && !elsewhere;
  }
  isOnline(agentId: string) {
    return this.byAgent.has(agentId) || !!this.remote?.has(agentId);
  }
  onlineIds(): string[] {
    if (!this.remote) return [...this.byAgent.keys()];
    return [...new Set([...this.byAgent.keys(), ...this.remote.agentIds()])];
  }
  /** Agents with a socket held by this process (for /metrics: each instance counts its own). */
  onlineCount() {
    return this.byAgent.size;
  }
  /** The agents with a socket held by this process. */
  heldIds(): string[] {
    return [...this.byAgent.keys()];
  }
  /** The socket this process holds and the agent's events go to: its newest, unless another instance holds a newer one. */
  newest(agentId: string): AgentSocket | undefined {
    const map = this.byAgent.get(agentId);
    if (!map) return undefined;
    let last: AgentSocket | undefined;
    let at = -Infinity;
    for (const [ws, h] of map) if (h.openedAt >= at) [last, at] = [ws, h.openedAt];
    if (this.remote && this.remote.newestAt(agentId) > at) return undefined;
    return last;
  }
  /** Whether this process holds a socket of the agent. */
  has(agentId: string) {
    return this.byAgent.has(agentId);
  }
  /**
   * Sockets that opened or closed on other instances (this one's own changes
   * are skipped). Returns the agents held here whose socket here may now be
   * their newest (a newer one elsewhere went): their events come here again;
   * and the agents now offline that nobody told the inboxes of: two
   * instances closed their last sockets at once, each still knowing of the
   * other's, so each instance tells its own inboxes.
   */
  remoteChanged(changes: SocketChange[]): { woken: string[]; offline: string[] } {
    if (!this.remote || !changes.length) return { woken: [], offline: [] };
    const woken = new Set<string>();
    const offline = new Set<string>();
    for (const c of changes) {
      this.remote.apply(c);
      if (c.openedAt === null && this.byAgent.has(c.agentId)) woken.add(c.agentId);
      if (c.unannounced && c.instanceId !== this.remote.self && !this.isOnline(c.agentId)) offline.add(c.agentId);
    }
    return { woken: [...woken], offline: [...offline] };
  }
  /** What the other instances' sockets have changed so far (read before reloadRemote's query). */
  remoteVersion() {
    return this.remote?.version ?? 0;
  }
  /** Every socket of the other instances, read again (after remoteVersion() was `since`); returns the held agents whose events come here now and did not before. */
  reloadRemote(all: SocketChange[], since: number): string[] {
    if (!this.remote) return [];
    const before = new Set(this.heldIds().filter((a) => this.newest(a)));
    this.remote.replace(all, since);
    return this.heldIds().filter((a) => !before.has(a) && this.newest(a));
  }
  /** Whether another live instance holds a socket of the agent (it delivers there, no webhook from here). */
  elsewhere(agentId: string) {
    return !!this.remote?.has(agentId);
  }
  get(agentId: string): AgentSocket[] {
    return [...(this.byAgent.get(agentId)?.keys() ?? [])];
  }
  /** The sockets held here, for writing them down again (an instance thought dead comes back). */
  held(): { agentId: string; sessionId: string; openedAt: number }[] {
    const out = [];
    for (const [agentId, map] of this.byAgent) for (const h of map.values()) out.push({ agentId, ...h });
    return out;
  }
  /** Closes every socket of the agent (its credentials changed or it was deleted). */
  disconnect(agentId: string, code = 4003, reason = "credentials revoked") {
    for (const ws of this.get(agentId)) ws.close(code, reason);
  }
  /** Closes every agent socket (the server is stopping). */
  closeAll(code = 1001, reason = "server shutting down") {
    for (const map of this.byAgent.values()) for (const ws of [...map.keys()]) ws.close(code, reason);
  }
  count() {
    let n = 0;
    for (const s of this.byAgent.values()) n += s.size;
    return n;
  }
}
