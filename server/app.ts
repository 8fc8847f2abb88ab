// The app factory: builds the context, the Elysia app with every route, and
// the background loops. `nod serve` and the tests both start servers here.
import { Elysia } from "elysia";
import type { Server } from "bun";
import type { Config } from "./config.ts";
import type { Ctx } from "./context.ts";
import { existsSync } from "node:fs";
import path from "node:path";
import { DB_FILE } from "./db/index.ts";
import { openStore, type Store } from "./db/store.ts";
import { Checkpointer } from "./db/checkpointer.ts";
import { privateDir } from "./lib/private-files.ts";
import { Logger } from "./lib/log.ts";
import { Hub } from "./realtime/hub.ts";
import { AgentSockets } from "./realtime/sockets.ts";
import { InboxSockets } from "./realtime/inbox-socket.ts";
import { ProcessingIndicators } from "./conversations/processing.ts";
import { OutboxDispatcher } from "./delivery/dispatcher.ts";
import { Metrics } from "./metrics.ts";
import { httpBasics, BUN_MAX_BODY } from "./http.ts";
import { authRoutes } from "./auth/public.ts";
import { mediaRoutes } from "./media/public.ts";
import { taskTriggerRoutes } from "./tasks/trigger.ts";
import { peopleAgentRoutes } from "./agents/people.ts";
import { peopleConversationRoutes } from "./conversations/people.ts";
import { peopleDecisionRoutes } from "./decisions/people.ts";
import { peopleActivityRoutes } from "./activity/people.ts";
import { peopleDeliveryRoutes } from "./delivery/people.ts";
import { peopleTaskRoutes } from "./tasks/people.ts";
import { agentEventRoutes } from "./events/agent.ts";
import { agentDecisionRoutes } from "./decisions/agent.ts";
import { agentTaskRoutes } from "./tasks/agent.ts";
import { realtimeRoutes, WS_SERVER_OPTIONS } from "./realtime/index.ts";
import { TaskScheduler } from "./tasks/scheduler.ts";
import { DecisionExpiry } from "./decisions/expiry.ts";
import { PushSender } from "./push/sender.ts";
import { peoplePushRoutes } from "./push/people.ts";
import { endAllLongPolls } from "./decisions/long-poll.ts";
import { effectSink, type Live } from "./effects.ts";
import { metricsRoutes } from "./ops/metrics.ts";
import { SocketBudget } from "./ops/socket-budget.ts";
import { Retention } from "./ops/retention.ts";
import { openapiDocs } from "./ops/openapi.ts";
import { healthRoutes } from "./ops/health.ts";
import { VERSION } from "./version.ts";
import { webRoutes } from "./web.ts";
import { joinCluster, type Cluster } from "./cluster.ts";
export { VERSION };

export interface NodServer {
  ctx: Ctx;
  live: Live;
  app: ReturnType<typeof buildApp>;
  server: Server<unknown>;
  url: string; // http://127.0.0.1:PORT as reachable from this machine
  /** On PostgreSQL: this instance among the others on the database (cluster.ts); null on SQLite. */
  cluster: Cluster | null;
  stop(): Promise<void>;
}

/** The store (SQLite, or PostgreSQL with --database), the services' context and the live pieces, wired so that committed effects reach the sockets and loops. */
export async function createContext(config: Config, opts: { log?: Logger; now?: () => number } = {}): Promise<{ ctx: Ctx; live: Live; store: Store }> {
  const log = opts.log ?? new Logger(config.logLevel);
  const store = await openStore(config, { onSinkError: (e) => log.error("effects of a committed write failed", { error: e as Error }) });
  const { db, writer } = store;
  // Images stored by an older nod (0755 folder, 0644 files) are closed up too.
  const media = path.join(config.dataDir, "media");
  if (existsSync(media)) privateDir(media);
  const agentSockets = new AgentSockets();
  const ctx: Ctx = {
    config,
    db,
    writer,
    log,
    metrics: new Metrics(),
    presence: agentSockets,
    processing: new ProcessingIndicators((frame) => writer.announce(frame)),
    now: opts.now ?? Date.now,
  };
  const live: Live = {
    hub: new Hub(),
    agentSockets,
    inboxSockets: new InboxSockets(),
    dispatcher: new OutboxDispatcher(ctx, agentSockets),
    scheduler: new TaskScheduler(ctx),
    expiry: new DecisionExpiry(ctx),
    push: new PushSender(ctx),
    budget: new SocketBudget(ctx),
    retention: new Retention(ctx),
  };
  writer.setSink(effectSink(live));
  return { ctx, live, store };
}

/**
 * Every route, grouped by who may call it. Each feature folder holds its own
 * routes (public.ts, people.ts, agent.ts) with full paths, so a grep for a
 * path finds its file.
 */
export function buildApp(ctx: Ctx, live: Live, web: Awaited<ReturnType<typeof webRoutes>>) {
  return (
    new Elysia({ serve: { maxRequestBodySize: BUN_MAX_BODY }, websocket: WS_SERVER_OPTIONS })
      .use(httpBasics(ctx))
      // ---- public: anyone ----
      .use(healthRoutes(ctx)) //              /healthz (the server and its database)
      .get("/", ({ redirect }) => redirect("/app"), { detail: { hide: true } })
      .use(web) //                            /app, /app/* (the inbox's page and its files)
      .use(mediaRoutes(ctx)) //               /media/:name
      .use(authRoutes(ctx)) //                /api/auth/status, setup, login, logout
      .use(taskTriggerRoutes(ctx)) //         /webhook/:trigger_id
      // ---- people: a session cookie (auth/guard.ts) ----
      .use(peopleAgentRoutes(ctx)) //         /api/agents, /api/agents/:id, /api/agents/:id/secret
      .use(peopleConversationRoutes(ctx)) //  /api/agents/:id/conversations, /api/agents/:id/messages, /api/conversations/:id/…
      .use(peopleDecisionRoutes(ctx)) //      /api/decisions, /api/decisions/:id, /api/decisions/:id/respond
      .use(peopleActivityRoutes(ctx)) //      /api/activity, /api/agents/:id/activity
      .use(peopleDeliveryRoutes(ctx)) //      /api/deliveries, /api/deliveries/:event_id/retry
      .use(peopleTaskRoutes(ctx)) //          /api/tasks…, /api/agents/:id/tasks
      .use(peoplePushRoutes(ctx)) //          /api/push/key, /api/push/subscriptions…, /api/push/test, /api/push/settings
      // ---- agents: X-Nod-Agent-Id + X-Nod-Secret (agents/guard.ts) ----
      .use(agentEventRoutes(ctx)) //          /api/agent/events
      .use(agentDecisionRoutes(ctx)) //       /api/agent/decisions/resolve, /api/agent/decisions/:decision_id
      .use(agentTaskRoutes(ctx)) //           /api/agent/tasks…
      // ---- sockets: agents (an auth frame), the inbox (a session cookie) ----
      .use(realtimeRoutes(ctx, live)) //      /ws/agent/:agent_id, /ws/app
      // ---- operations ----
      .use(metricsRoutes(ctx, live)) //       /metrics (a bearer token)
      .use(openapiDocs) //                    /docs, /docs/json (every route above)
  );
}

/** Opens the database, starts listening and the background loops. */
export async function startServer(config: Config, opts: { log?: Logger; now?: () => number } = {}): Promise<NodServer> {
  const web = await webRoutes();
  const { ctx, live, store } = await createContext(config, opts);
  const app = buildApp(ctx, live, web);
  // SQLite's WAL file; PostgreSQL checkpoints by itself.
  const checkpointer = store.dialect === "sqlite" ? new Checkpointer(ctx.writer.db, path.join(config.dataDir, DB_FILE), (detail) => ctx.log.warn(detail)) : null;
  checkpointer?.start();
  const cluster = await joinCluster(ctx, live, store); // before the first request: nothing another instance does is missed
  app.listen({ port: config.port, hostname: config.host });
  const server = app.server!;
  live.hub.attach(server);
  live.dispatcher.start();
  live.scheduler.start();
  live.expiry.start();
  await live.push.start();
  live.retention.start();
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${server.port}`;
  await live.budget.start(server);
  let stopped = false;
  return {
    ctx,
    live,
    app,
    server,
    url,
    cluster,
    async stop() {
      if (stopped) return;
      stopped = true;
      // Every step runs even when one before it failed (a loop left running
      // would go on querying a closed store); the first failure is thrown.
      let failure: unknown;
      const step = async (fn: () => unknown) => {
        try {
          await fn();
        } catch (e) {
          failure ??= e;
        }
      };
      await step(() => live.scheduler.stop());
      await step(() => live.expiry.stop());
      await step(() => live.dispatcher.stop());
      await step(() => live.push.stop());
      await step(() => live.retention.stop());
      await step(() => live.budget.stop());
      await step(() => ctx.processing.stopAll());
      await step(async () => {
        // Stop accepting; requests in flight finish (up to 3 s: long-polls are woken,
        // everything else is short); sockets are closed with 1001.
        const drained = server.stop(false);
        endAllLongPolls(); // long-polls answer now instead of holding the stop
        live.agentSockets.closeAll();
        live.inboxSockets.closeAll();
        await Promise.race([drained, Bun.sleep(3_000)]);
        await app.stop(true);
      });
      await step(() => live.hub.detach());
      await step(() => ctx.writer.flush());
      await step(() => cluster?.stop());
      await step(() => checkpointer?.stop());
      // Even when a step above failed: a store left open holds its connections (and, for PostgreSQL, the process's dialect).
      await step(() => store.close());
      if (failure !== undefined) throw failure;
    },
  };
}
