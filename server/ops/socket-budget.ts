// Degrade, don't die: nod keeps file descriptors free for the database, the
// people's inbox and /healthz by refusing new agent WebSockets before the
// process's open-file limit is reached.
//
// In use = the descriptors counted at the last sample (every SAMPLE_EVERY_MS,
// off the event loop) + the WebSockets opened or closed since (Bun counts them
// the moment it upgrades). Beyond limit − headroom a new agent WebSocket gets
// 503 {"detail"} with Retry-After and the connection is closed; beyond
// limit − headroom/2 so does a new inbox socket. Sockets already open are
// never touched. Refusals are counted in /metrics and logged once a minute.
//
// Also here: Bun's HTTP client (webhooks, Web Push) starts its own thread on
// first use, and at the limit that start kills the process (Bun 1.4.5:
// "ran out of file descriptors (ProcessFdQuotaExceeded)"). It is started at
// once, while descriptors are free; later, at the limit, a fetch only fails.
import type { Server } from "bun";
import type { Ctx } from "../context.ts";
import { countOpenFds, readFdLimit } from "./fd-limit.ts";
import { AcceptDrain } from "./accept-drain.ts";

export const SAMPLE_EVERY_MS = 2000;
const LOG_EVERY_MS = 60_000;
export const RETRY_AFTER_S = 30;
// Where descriptors cannot be listed: what nod holds besides its sockets (database, listener, Bun's own).
const BASE_FDS = 64;

/** Descriptors kept free by default: a tenth of the limit, at least 32, at most 1,000. */
export const defaultHeadroom = (limit: number) => Math.max(32, Math.min(1000, Math.round(limit / 10)));

export type SocketKind = "agent" | "inbox";

export class SocketBudget {
  limit: number | null = null;
  headroom = 0;
  private server: Server<unknown> | null = null;
  private sample: { fds: number; sockets: number } | null = null;
  private sampler: ReturnType<typeof setInterval> | null = null;
  private drain = new AcceptDrain((n) => this.shed(n));
  private refusedSinceLog = 0;
  private lastLog = -Infinity;

  constructor(private ctx: Ctx) {}

  /** Reads the limit, takes a first count, and starts sampling and the accept drain. */
  async start(server: Server<unknown>) {
    this.server = server;
    const { ctx } = this;
    const limit = readFdLimit();
    this.limit = limit && Number.isFinite(limit.soft) ? limit.soft : null;
    if (this.limit === null) {
      ctx.log.warn("open-file limit unknown: agent sockets are not capped");
    } else {
      this.headroom = Math.min(ctx.config.fdHeadroom ?? defaultHeadroom(this.limit), this.limit - 1);
      this.sampler = setInterval(() => void this.takeSample(), SAMPLE_EVERY_MS);
      this.sampler.unref?.();
      await this.takeSample();
      ctx.log.info("agent WebSockets refused beyond the open-file limit minus headroom", {
        limit: this.limit,
        headroom: this.headroom,
        open_fds: this.inUse(),
      });
      if (!this.drain.start(server.port!)) ctx.log.debug("accept drain not available on this platform");
    }
    // The HTTP client's thread, started while descriptors are free (see above):
    // any request starts it; one to a closed loopback port costs nothing and logs nothing.
    await fetch("http://127.0.0.1:1/", { signal: AbortSignal.timeout(2000) }).catch(() => {});
  }

  stop() {
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = null;
    this.drain.stop();
    this.server = null;
  }

  private sockets() {
    return this.server?.pendingWebSockets ?? 0;
  }

  private async takeSample() {
    const sockets = this.sockets();
    const fds = await countOpenFds();
    this.sample = fds === null ? null : { fds, sockets };
  }

  /** Descriptors in use now (estimated between samples), or null when unknown. */
  inUse(): number | null {
    if (this.limit === null || !this.server) return null;
    const now = this.sockets();
    if (!this.sample) return BASE_FDS + now + this.server.pendingRequests;
    return this.sample.fds + now - this.sample.sockets;
  }

  /** The answer to a WebSocket upgrade that would eat into the headroom, or null to let it through. */
  refuse(kind: SocketKind): Response | null {
    const used = this.inUse();
    if (used === null || this.limit === null) return null;
    const ceiling = this.limit - (kind === "agent" ? this.headroom : Math.floor(this.headroom / 2));
    if (used < ceiling) return null;
    this.ctx.metrics.inc("nod_sockets_refused_total", "WebSocket upgrades refused to keep file descriptors free", { socket: kind, reason: "fd_limit" });
    this.refusedSinceLog++;
    const now = Date.now();
    if (now - this.lastLog >= LOG_EVERY_MS) {
      this.ctx.log.warn("refusing new WebSockets: near the open-file limit", {
        socket: kind,
        open_fds: used,
        limit: this.limit,
        headroom: this.headroom,
        refused: this.refusedSinceLog,
      });
      this.lastLog = now;
      this.refusedSinceLog = 0;
    }
    return new Response(JSON.stringify({ detail: "server busy: too many open connections, try again later" }), {
      status: 503,
      // Connection: close gives the descriptor back at once.
      headers: { "content-type": "application/json", "retry-after": String(RETRY_AFTER_S), connection: "close" },
    });
  }

  private shed(n: number) {
    this.ctx.metrics.inc("nod_connections_shed_total", "Connections answered 503 at accept because no file descriptor was left", {}, n);
    const now = Date.now();
    if (now - this.lastLog >= LOG_EVERY_MS) {
      this.ctx.log.warn("out of file descriptors: answering waiting connections 503", { connections: n, limit: this.limit });
      this.lastLog = now;
    }
  }

  /** For /metrics. */
  lastCount() {
    return this.inUse() ?? -1;
  }
}
