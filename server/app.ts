// The app factory: builds the context, the Elysia app with every route, and
// the background loops. `nod serve` and the tests both start servers here.
import { Elysia } from "elysia";
import type { Server } from "bun";
import type { Config } from "./config.ts";
import type { Ctx } from "./context.ts";
import { openDb, closeDb } from "./db/index.ts";
import { GroupCommit } from "./db/group-commit.ts";
import { Logger } from "./lib/log.ts";
import { Hub } from "./realtime/hub.ts";
import { Presence } from "./realtime/presence.ts";
import { AgentSockets } from "./realtime/sockets.ts";
import { InboxSockets } from "./realtime/inbox-socket.ts";
import { ProcessingIndicators } from "./realtime/processing.ts";
import { OutboxDispatcher } from "./delivery/dispatcher.ts";
import { PushSender } from "./push/sender.ts";
import { pushRoutes } from "./push/index.ts";
import { Metrics } from "./metrics.ts";
import { httpBasics, MAX_BODY } from "./http.ts";
import { authRoutes } from "./auth/index.ts";
import { agentRoutes } from "./agents/index.ts";
import { conversationRoutes } from "./conversations/index.ts";
import { decisionRoutes } from "./decisions/index.ts";
import { activityRoutes } from "./activity/index.ts";
import { agentEventRoutes } from "./events/index.ts";
import { mediaRoutes } from "./media/index.ts";
import { realtimeRoutes, WS_SERVER_OPTIONS } from "./realtime/index.ts";
import { deliveryRoutes } from "./delivery/index.ts";
import { agentTaskRoutes, peopleTaskRoutes, webhookTriggerRoutes } from "./tasks/index.ts";
import { TaskScheduler } from "./tasks/scheduler.ts";
import { wakeAll as wakeAllDecisionWaits } from "./decisions/waiters.ts";

import { metricsRoutes } from "./ops/metrics.ts";
import { openapiDocs } from "./ops/openapi.ts";
import { VERSION } from "./version.ts";
import { webRoutes } from "./web.ts";
export { VERSION };

export interface NodServer {
  ctx: Ctx;
  app: ReturnType<typeof buildApp>;
  server: Server<unknown>;
  url: string; // http://127.0.0.1:PORT as reachable from this machine
  stop(): Promise<void>;
}

export function createContext(config: Config, opts: { log?: Logger; now?: () => number } = {}): Ctx {
  const log = opts.log ?? new Logger(config.logLevel);
  const db = openDb(config.dataDir);
  const hub = new Hub();
  const ctx = {
    config,
    db,
    writer: new GroupCommit(db),
    log,
    hub,
    presence: new Presence(),
    agentSockets: new AgentSockets(),
    inboxSockets: new InboxSockets(),
    processing: new ProcessingIndicators(hub),
    metrics: new Metrics(),
    now: opts.now ?? Date.now,
  } as Omit<Ctx, "delivery" | "push"> as Ctx;
  ctx.delivery = new OutboxDispatcher(ctx);
  ctx.push = new PushSender(ctx);
  return ctx;
}

/** Every route, grouped by who may call it: public, people, agents. */
export function buildApp(ctx: Ctx, web: Awaited<ReturnType<typeof webRoutes>>) {
  return (
    new Elysia({ serve: { maxRequestBodySize: MAX_BODY }, websocket: WS_SERVER_OPTIONS })
      .use(httpBasics(ctx))
      // public
      .get("/healthz", () => ({ status: "ok" }))
      .get("/", ({ redirect }) => redirect("/app"))
      .use(web)
      .use(mediaRoutes(ctx))
      .use(authRoutes(ctx))
      .use(webhookTriggerRoutes(ctx))
      // people (session cookie)
      .use(agentRoutes(ctx))
      .use(conversationRoutes(ctx))
      .use(decisionRoutes(ctx))
      .use(activityRoutes(ctx))
      .use(deliveryRoutes(ctx))
      .use(peopleTaskRoutes(ctx))
      .use(pushRoutes(ctx))
      // agents (X-Nod-Agent-Id + X-Nod-Secret)
      .use(agentEventRoutes(ctx))
      .use(agentTaskRoutes(ctx))
      // WebSockets: agents (auth frame) and the inbox (session cookie)
      .use(realtimeRoutes(ctx))
      // operations: /metrics (token), /docs and /docs/json (OpenAPI of every route above)
      .use(metricsRoutes(ctx))
      .use(openapiDocs)
  );
}

/** Opens the database, starts listening and the background loops. */
export async function startServer(config: Config, opts: { log?: Logger; now?: () => number } = {}): Promise<NodServer> {
  const web = await webRoutes();
  const ctx = createContext(config, opts);
  const app = buildApp(ctx, web);
  app.listen({ port: config.port, hostname: config.host });
  const server = app.server!;
  ctx.hub.attach(server);
  const dispatcher = ctx.delivery as OutboxDispatcher;
  dispatcher.start();
  const pushSender = ctx.push as PushSender;
  pushSender.start();
  const scheduler = new TaskScheduler(ctx);
  scheduler.start();
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  let stopped = false;
  return {
    ctx,
    app,
    server,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${server.port}`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await scheduler.stop();
      await dispatcher.stop();
      await pushSender.stop();
      ctx.processing.stopAll();
      // Stop accepting; requests in flight finish (up to 3 s: long-polls are woken,
      // everything else is short); sockets are closed with 1001.
      const drained = server.stop(false);
      wakeAllDecisionWaits(); // long-polls answer now instead of holding the stop
      ctx.agentSockets.closeAll();
      ctx.inboxSockets.closeAll();
      await Promise.race([drained, Bun.sleep(3_000)]);
      await app.stop(true);
      ctx.hub.detach();
      ctx.writer.flush();
      closeDb(ctx.db);
    },
  };
}
