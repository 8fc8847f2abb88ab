// GET /metrics — Prometheus text format, for a scraper holding the token set
// by --metrics-token (Authorization: Bearer TOKEN). Without a configured token
// the route does not exist (404); a missing or wrong token is 401.
import { Elysia } from "elysia";
import { createHash, timingSafeEqual } from "node:crypto";
import type { Ctx } from "../context.ts";
import { HttpError } from "../lib/errors.ts";
import { INBOX_TOPIC } from "../realtime/hub.ts";
import { longPollCount } from "../decisions/long-poll.ts";
import type { Live } from "../effects.ts";
import { VERSION, COMMIT } from "../version.ts";
import { instanceName } from "../config.ts";
import { labelValue } from "../metrics.ts";

const digest = (s: string) => createHash("sha256").update(s).digest();
const tokenMatches = (given: string, expected: string) => timingSafeEqual(digest(given), digest(expected));

export function metricsRoutes(ctx: Ctx, live: Live) {
  const started = Date.now();
  // "name", not "instance": Prometheus gives every scraped series an instance label (the target's host:port) of its own.
  const instanceLabel = labelValue(instanceName(ctx.config));
  const m = ctx.metrics;
  m.gauge("nod_agent_sockets_open", "Open, authenticated agent WebSocket connections", () => live.agentSockets.count());
  m.gauge("nod_agents_online", "Agents with at least one open WebSocket", () => live.agentSockets.onlineCount());
  m.gauge("nod_inbox_sockets_open", "Open inbox (/ws/app) WebSocket connections", () => live.hub.subscriberCount(INBOX_TOPIC));
  m.gauge("nod_decision_waits_open", "Agent requests long-polling GET /api/agent/decisions/:id?wait=", () => longPollCount());
  m.gauge("nod_fd_limit", "The process's open-file limit (-1: unknown)", () => live.budget.limit ?? -1);
  m.gauge("nod_fds_open", "File descriptors in use (sampled every 2 s, -1: unknown)", () => live.budget.lastCount());
  m.gauge("nod_uptime_seconds", "Seconds since the server started", () => Math.round((Date.now() - started) / 1000));

  return new Elysia({ name: "nod-metrics" }).get(
    "/metrics",
    ({ request }) => {
      const token = ctx.config.metricsToken;
      if (!token) throw new HttpError(404, "not found");
      const auth = request.headers.get("authorization") ?? "";
      const given = /^Bearer\s+(.+)$/i.exec(auth)?.[1]?.trim();
      if (!given || !tokenMatches(given, token)) {
        throw new HttpError(401, "metrics: send Authorization: Bearer <the --metrics-token>", { "www-authenticate": 'Bearer realm="nod metrics"' });
      }
      const info =
        `# HELP nod_build_info The running version of nod\n# TYPE nod_build_info gauge\nnod_build_info{version="${VERSION}",commit="${COMMIT}"} 1\n` +
        `# HELP nod_instance_info This server's name (--instance, default the host name)\n# TYPE nod_instance_info gauge\nnod_instance_info{name="${instanceLabel}"} 1\n`;
      return new Response(info + m.render(), { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
    },
    { detail: { hide: true } },
  );
}
