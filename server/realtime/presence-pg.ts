// Which agents have a socket, on which instance, when several nod instances
// share one PostgreSQL database. Each instance writes its agents' sockets to
// agent_sockets (PgSocketDirectory) and keeps in memory the sockets the
// others hold (RemoteSockets), from the socket changes among their effects
// (db/pg-fanout.ts) and a reload now and then (a notification missed while
// the LISTEN connection was down). The people's API and the inbox ask
// AgentSockets (sockets.ts), which answers from both.
import { eq } from "drizzle-orm";
import type { Logger } from "../lib/log.ts";
import type { SocketChange, Writer } from "../db/unit-of-work.ts";
import { asPg } from "../db/pg-writer.ts";
import { agentSockets } from "../db/schema-cluster.ts";
import type { SocketDirectory } from "./sockets.ts";

/** The sockets other instances hold, by agent and session. */
export class RemoteSockets {
  private byAgent = new Map<string, Map<string, { instanceId: string; openedAt: number }>>();
  // Changes applied since the oldest reload still reading began: a reload's rows
  // were read before some of them committed, so they are applied again on top.
  private applied = 0;
  private recent: { n: number; c: SocketChange }[] = [];

  constructor(readonly self: string) {}

  has(agentId: string) {
    return this.byAgent.has(agentId);
  }
  agentIds() {
    return this.byAgent.keys();
  }
  /** When the agent's newest socket on another instance opened (ms); -Infinity when it has none. */
  newestAt(agentId: string): number {
    let at = -Infinity;
    for (const s of this.byAgent.get(agentId)?.values() ?? []) if (s.openedAt > at) at = s.openedAt;
    return at;
  }

  /** How many changes were applied so far: read it before a reload's query, and hand it to replace(). */
  get version() {
    return this.applied;
  }

  /** A socket opened or closed on another instance (this one's own are skipped). */
  apply(c: SocketChange) {
    if (c.instanceId === this.self) return;
    this.recent.push({ n: ++this.applied, c });
    if (this.recent.length > 10_000) this.recent.shift();
    this.put(c);
  }

  private put(c: SocketChange) {
    let map = this.byAgent.get(c.agentId);
    if (c.openedAt === null) {
      map?.delete(c.sessionId);
      if (map?.size === 0) this.byAgent.delete(c.agentId);
      return;
    }
    if (!map) this.byAgent.set(c.agentId, (map = new Map()));
    map.set(c.sessionId, { instanceId: c.instanceId, openedAt: c.openedAt });
  }

  /**
   * Everything known again, from the table, as read after `since` (version
   * before the query): the changes applied while the query was on its way
   * (a socket that closed after the read began) are applied again on top.
   */
  replace(all: SocketChange[], since: number) {
    this.byAgent.clear();
    for (const c of all) if (c.instanceId !== this.self) this.put(c);
    for (const r of this.recent) if (r.n > since) this.put(r.c);
    this.recent = this.recent.filter((r) => r.n > since);
  }
}

/**
 * Writes this instance's sockets to agent_sockets, each change in a unit of
 * work whose effects tell the other instances. A write that fails (a
 * connection lost under load) is logged, and every heartbeat puts the table
 * right again (reconcile): without it, a close that never reached the table
 * would leave the agent "online" on every other instance for good.
 */
export class PgSocketDirectory implements SocketDirectory {
  constructor(
    private writer: Writer,
    private instanceId: string,
    private log: Logger,
  ) {}

  opened(agentId: string, sessionId: string, openedAt: number) {
    const change: SocketChange = { agentId, sessionId, instanceId: this.instanceId, openedAt };
    this.writer
      .now(async (uow) => {
        await asPg(uow.db).insert(agentSockets).values({ sessionId, agentId, instanceId: this.instanceId, openedAt }).onConflictDoNothing();
        uow.socketChanged(change);
      })
      .catch((e) => this.log.warn("writing an agent socket down failed", { agent: agentId, error: e as Error }));
  }

  closed(agentId: string, sessionId: string, unannounced: boolean) {
    this.writer
      .now(async (uow) => {
        await asPg(uow.db).delete(agentSockets).where(eq(agentSockets.sessionId, sessionId));
        uow.socketChanged({ agentId, sessionId, instanceId: this.instanceId, openedAt: null, ...(unannounced && { unannounced: true as const }) });
      })
      .catch((e) => this.log.warn("writing an agent socket's close down failed", { agent: agentId, error: e as Error }));
  }

  /**
   * Makes this instance's rows the sockets it holds: a row of a socket no
   * longer held goes, a held socket without a row is written; the others
   * hear each change. Held sockets are read once the rows are in: a socket
   * that opens or closes after that has its own write queued behind this one.
   */
  async reconcile(held: () => { agentId: string; sessionId: string; openedAt: number }[]) {
    await this.writer.now(async (uow) => {
      const pg = asPg(uow.db);
      const rows = await pg.select({ agentId: agentSockets.agentId, sessionId: agentSockets.sessionId }).from(agentSockets).where(eq(agentSockets.instanceId, this.instanceId));
      const holding = new Map(held().map((h) => [h.sessionId, h]));
      for (const r of rows) {
        if (holding.delete(r.sessionId)) continue;
        await pg.delete(agentSockets).where(eq(agentSockets.sessionId, r.sessionId));
        uow.socketChanged({ agentId: r.agentId, sessionId: r.sessionId, instanceId: this.instanceId, openedAt: null });
      }
      for (const h of holding.values()) {
        await pg.insert(agentSockets).values({ ...h, instanceId: this.instanceId }).onConflictDoNothing();
        uow.socketChanged({ ...h, instanceId: this.instanceId });
      }
    });
  }
}
