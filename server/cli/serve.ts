// nod serve
import { makeConfig, DEFAULTS, INSTANCE_RE, instanceName, type Config } from "../config.ts";
import { LOG_LEVELS, Logger, type LogLevel } from "../lib/log.ts";
import { parseDuration } from "../lib/time.ts";
import { startServer, VERSION } from "../app.ts";
import { parseArgs, UsageError } from "./args.ts";
import { raiseFdLimit } from "../ops/fd-limit.ts";
import { describeDatabase, isPostgresUrl, StoreOpenError } from "../db/store.ts";
import { CliFailure } from "./client.ts";
import path from "node:path";

export const SERVE_HELP = `Usage: nod serve [flags]

Start the nod server.

Flags (each also read from its environment variable):
  --port N               port to listen on (NOD_PORT, default ${DEFAULTS.port})
  --host H               address to bind (NOD_HOST, default ${DEFAULTS.host})
  --data DIR             data directory: database and media (NOD_DATA_DIR, default ${DEFAULTS.dataDir})
  --database URL         a postgres:// or postgresql:// URL: keep nod's state in that
                         PostgreSQL database (14 or later; migrations are applied at
                         start) instead of SQLite in --data (NOD_DATABASE_URL)
  --public-url URL       URL people and agents reach this server at, for trigger and
                         media links (NOD_PUBLIC_URL, default http://localhost:PORT)
  --log-level LEVEL      debug, info, warn or error (NOD_LOG_LEVEL, default info)
  --instance NAME        this server's name where several share a database: in the
                         start line, at the end of every log line, and in /metrics
                         as nod_instance_info{name="NAME"} (NOD_INSTANCE, default
                         the host name, then in the start line and /metrics only)
  --webhook-block-private  refuse webhook and push URLs on loopback and private networks
                         (NOD_WEBHOOK_BLOCK_PRIVATE=1)
  --webhook-retry-base D base wait between webhook attempts: D, then 4×D
                         (NOD_WEBHOOK_RETRY_BASE, default 2s)
  --webhook-retry-window D  after those three attempts, keep trying with growing
                         gaps until an event is D old; 0: three attempts only
                         (NOD_WEBHOOK_RETRY_WINDOW, default 24h)
  --run-timeout D        fail task runs not completed within D (NOD_RUN_TIMEOUT, default 24h)
  --metrics-token TOKEN  enable /metrics, readable with "Authorization: Bearer TOKEN"
                         (NOD_METRICS_TOKEN)
  --push-contact URL     mailto: or https: address push services may contact about
                         this server's notifications (NOD_PUSH_CONTACT, default
                         the public URL when it is https)
  --keep-deliveries D    delete delivered events D after delivery; 0 keeps them
                         (NOD_KEEP_DELIVERIES, default 7d)
  --keep-runs D          delete finished task runs D after they finished
                         (NOD_KEEP_RUNS, default 90d)
  --keep-activity D      delete activity entries older than D (NOD_KEEP_ACTIVITY,
                         default 90d)
  --keep-messages D      delete messages (and their images) older than D
                         (NOD_KEEP_MESSAGES, default 0: kept forever)
  --fd-headroom N        file descriptors kept free for the database, the inbox and
                         /healthz: new agent WebSockets are refused (503) beyond the
                         open-file limit minus N (NOD_FD_HEADROOM, default a tenth
                         of the limit, 32 to 1000)
  -h, --help             show this help
`;

export const SERVE_FLAGS = {
  port: { type: "string" },
  host: { type: "string" },
  data: { type: "string" },
  database: { type: "string" },
  "public-url": { type: "string" },
  "log-level": { type: "string" },
  instance: { type: "string" },
  "webhook-block-private": { type: "boolean" },
  "webhook-retry-base": { type: "string" },
  "webhook-retry-window": { type: "string" },
  "run-timeout": { type: "string" },
  "metrics-token": { type: "string" },
  "push-contact": { type: "string" },
  "fd-headroom": { type: "string" },
  "keep-deliveries": { type: "string" },
  "keep-runs": { type: "string" },
  "keep-activity": { type: "string" },
  "keep-messages": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const env = (name: string) => process.env[name] || undefined;

function duration(flag: string, text: string | undefined, zeroOk = false): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === null || ms < 0 || (ms === 0 && !zeroOk)) throw new UsageError(`--${flag}: not a duration like 30s, 10m or 1h: ${text}`);
  return ms;
}

export function serveConfig(argv: string[]): Config | "help" {
  const { flags, positional } = parseArgs(argv, SERVE_FLAGS);
  if (flags.help) return "help";
  if (positional.length) throw new UsageError(`unexpected argument: ${positional[0]}`);
  const portText = flags.port ?? env("NOD_PORT");
  const port = portText === undefined ? DEFAULTS.port : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port: not a port number: ${portText}`);
  const logLevel = (flags["log-level"] ?? env("NOD_LOG_LEVEL") ?? "info") as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new UsageError(`--log-level: one of ${LOG_LEVELS.join(", ")}`);
  const instance = flags.instance ?? env("NOD_INSTANCE");
  if (instance !== undefined && !INSTANCE_RE.test(instance))
    throw new UsageError(`--instance: 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit: ${instance}`);
  const publicUrl = flags["public-url"] ?? env("NOD_PUBLIC_URL");
  if (publicUrl !== undefined && !/^https?:\/\/[^/]+/.test(publicUrl)) throw new UsageError(`--public-url: not an http(s) URL: ${publicUrl}`);
  const databaseUrl = databaseUrlFrom(flags);
  const blockEnv = env("NOD_WEBHOOK_BLOCK_PRIVATE");
  const pushContact = flags["push-contact"] ?? env("NOD_PUSH_CONTACT");
  if (pushContact !== undefined && !/^(mailto:[^@\s]+@[^@\s]+|https:\/\/[^/\s]+\S*)$/.test(pushContact))
    throw new UsageError(`--push-contact: a mailto: or https: URL: ${pushContact}`);
  const headroomText = flags["fd-headroom"] ?? env("NOD_FD_HEADROOM");
  const fdHeadroom = headroomText === undefined ? null : Number(headroomText);
  if (fdHeadroom !== null && !(Number.isInteger(fdHeadroom) && fdHeadroom >= 0)) throw new UsageError(`--fd-headroom: not a whole number: ${headroomText}`);
  return makeConfig({
    port,
    host: flags.host ?? env("NOD_HOST") ?? DEFAULTS.host,
    dataDir: dataDirFrom(flags),
    databaseUrl,
    publicUrl,
    logLevel,
    instance,
    webhookBlockPrivate: Boolean(flags["webhook-block-private"]) || (blockEnv !== undefined && !["0", "false"].includes(blockEnv)),
    webhookRetryBaseMs: duration("webhook-retry-base", flags["webhook-retry-base"] ?? env("NOD_WEBHOOK_RETRY_BASE")),
    webhookRetryWindowMs: duration("webhook-retry-window", flags["webhook-retry-window"] ?? env("NOD_WEBHOOK_RETRY_WINDOW"), true),
    runTimeoutMs: duration("run-timeout", flags["run-timeout"] ?? env("NOD_RUN_TIMEOUT")),
    metricsToken: flags["metrics-token"] ?? env("NOD_METRICS_TOKEN") ?? null,
    pushContact: pushContact ?? null,
    fdHeadroom,
    keepDeliveriesMs: duration("keep-deliveries", flags["keep-deliveries"] ?? env("NOD_KEEP_DELIVERIES"), true),
    keepRunsMs: duration("keep-runs", flags["keep-runs"] ?? env("NOD_KEEP_RUNS"), true),
    keepActivityMs: duration("keep-activity", flags["keep-activity"] ?? env("NOD_KEEP_ACTIVITY"), true),
    keepMessagesMs: duration("keep-messages", flags["keep-messages"] ?? env("NOD_KEEP_MESSAGES"), true),
  });
}

/** Every socket is a file descriptor: the soft limit goes up to the hard one, and both are logged. */
function logFdLimit(log: Logger) {
  const r = raiseFdLimit();
  if ("error" in r) return log.warn(`${r.error}; running with the limit given`);
  const { before, after } = r;
  const raised = after.soft > before.soft ? { raised_from: before.soft } : {};
  log.info("open-file limit", { soft: after.soft, hard: after.hard, ...raised });
  if (after.soft < 4096) log.warn("the open-file limit is low: each agent socket takes one; see docs/deploy.md (LimitNOFILE, --ulimit nofile)");
}

export const dataDirFrom = (flags: { data?: string }) => path.resolve(flags.data ?? env("NOD_DATA_DIR") ?? DEFAULTS.dataDir);

/** --database or NOD_DATABASE_URL: a postgres:// URL, or undefined for SQLite in the data directory. */
export function databaseUrlFrom(flags: { database?: string }): string | undefined {
  const url = flags.database ?? env("NOD_DATABASE_URL");
  // Never echo the URL back: it may hold a password.
  if (url !== undefined && !(isPostgresUrl(url) && URL.canParse(url)))
    throw new UsageError(`--database: a postgres:// or postgresql:// URL${URL.canParse(url) ? `, not ${describeDatabase(url)}` : ""}`);
  return url;
}

/** A database that cannot be opened is the operator's to fix: one line, not a stack. */
export function storeFailure(e: unknown): never {
  if (e instanceof StoreOpenError) throw new CliFailure(e.message);
  throw e;
}

export async function serve(argv: string[]) {
  const config = serveConfig(argv);
  if (config === "help") {
    process.stdout.write(SERVE_HELP);
    return;
  }
  const log = new Logger(config.logLevel);
  // Named on purpose (several instances): every line says which one wrote it.
  if (config.instance) log.tag({ instance: config.instance });
  // The database by host and name only: its URL may hold a password.
  const database = config.databaseUrl ? { database: describeDatabase(config.databaseUrl) } : {};
  log.info(`nod ${VERSION} starting`, { data: config.dataDir, ...database, public_url: config.publicUrl, instance: instanceName(config) });
  if (/^https?:\/\/localhost[:/]/.test(config.publicUrl + "/") && !["127.0.0.1", "::1", "localhost"].includes(config.host))
    log.warn("the public URL is localhost: set --public-url so webhook trigger and image links work from other machines");
  logFdLimit(log);
  const nod = await startServer(config, { log }).catch(storeFailure);
  // --port 0 picks a free port: links then use the real one.
  if (config.publicUrl === "http://localhost:0") config.publicUrl = `http://localhost:${nod.server.port}`;
  const shown = config.host.includes(":") ? `[${config.host}]` : config.host;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal} received, shutting down`);
    await nod.stop();
    log.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  // The ready line, on stdout at every log level; after the handlers, so that
  // a SIGTERM sent as soon as it is read stops nod cleanly.
  process.stdout.write(`nod ${VERSION} listening on http://${shown}:${nod.server.port}\n`);
}
