// The WebSocket routes: /ws/agent/:agent_id for agents, /ws/app for the inbox.
// Both upgrade through Bun's native WebSockets with a per-connection handler
// object (Elysia's server-wide websocket handler calls ws.data.open/message/
// close), so frames arrive raw and invalid JSON can be told apart.
import { Elysia } from "elysia";
import type { Ctx } from "../context.ts";
import { isSameOrigin, personFromRequest } from "../auth/guard.ts";
import { MAX_BODY } from "../http.ts";
import { AgentConnection } from "./agent-socket.ts";
import { InboxConnection } from "./inbox-socket.ts";
import { readCookie } from "../lib/cookies.ts";
import { SESSION_COOKIE } from "../auth/service.ts";
import type { Live } from "../effects.ts";

/**
 * Server-wide WebSocket options. Bun pings a socket that has been silent for
 * about half the idle timeout (measured: 23.8 s) and closes it when the whole
 * timeout passes with nothing back, so a dead connection is dropped (and its
 * agent shown offline) within about 40 s; a live client answers pings by itself.
 */
export const WS_SERVER_OPTIONS = {
  idleTimeout: 40,
  sendPings: true,
  maxPayloadLength: MAX_BODY, // a message frame may carry a 5 MB image, base64-encoded
  backpressureLimit: 4 * 1024 * 1024,
  closeOnBackpressureLimit: false,
};

/** How often inbox sockets are checked against their session (tests lower it). */
export let SESSION_SWEEP_MS = 30_000;
export const setSessionSweepMs = (ms: number) => void (SESSION_SWEEP_MS = ms);

const json = (status: number, detail: string) =>
  new Response(JSON.stringify({ detail }), { status, headers: { "content-type": "application/json" } });

const isUpgrade = (request: Request) => request.headers.get("upgrade")?.toLowerCase() === "websocket";

export function realtimeRoutes(ctx: Ctx, live: Live) {
  // Inbox sockets of signed-out or expired sessions are closed within a minute.
  const inboxes = live.inboxSockets;
  const sweeper = setInterval(() => inboxes.sweep(ctx), SESSION_SWEEP_MS);
  sweeper.unref?.();
  return new Elysia({ name: "nod-realtime" })
    .onStop(() => clearInterval(sweeper))
    .get("/ws/agent/:agent_id", ({ request, server, params }) => {
      if (!isUpgrade(request)) return json(426, "expected a WebSocket upgrade");
      const busy = live.budget.refuse("agent"); // near the open-file limit: 503
      if (busy) return busy;
      if (!server?.upgrade(request, { data: new AgentConnection(ctx, live, params.agent_id) })) return json(400, "WebSocket upgrade failed");
    })
    .get("/ws/app", async ({ request, server }) => {
      const user = await personFromRequest(ctx, request);
      if (!user) return json(401, "sign in first");
      if (!isSameOrigin(ctx, request)) return json(403, "cross-site request refused");
      if (!isUpgrade(request)) return json(426, "expected a WebSocket upgrade");
      const busy = live.budget.refuse("inbox");
      if (busy) return busy;
      const token = readCookie(request.headers.get("cookie"), SESSION_COOKIE);
      if (!server?.upgrade(request, { data: new InboxConnection(ctx, user, token, inboxes) })) return json(400, "WebSocket upgrade failed");
    });
}
