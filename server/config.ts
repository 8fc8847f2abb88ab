// Everything `nod serve` can be told, with its flag, env var and default.
// The command line (cli/) fills it; tests build one with testConfig().
import { hostname } from "node:os";
import type { LogLevel } from "./lib/log.ts";

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** A postgres:// or postgresql:// URL: nod's state in that PostgreSQL database (db/store.ts); null: SQLite in dataDir. */
  databaseUrl: string | null;
  publicUrl: string; // no trailing slash
  logLevel: LogLevel;
  /** This process's name in logs and /metrics, set with --instance; null: the host name (instanceName). */
  instance: string | null;
  webhookBlockPrivate: boolean;
  webhookRetryBaseMs: number; // retries wait base, base*4 (2 s, 8 s by default)
  webhookRetryWindowMs: number; // after the three attempts, keep trying until an event is this old (0: three only)
  webhookTimeoutMs: number;
  runTimeoutMs: number; // a run never completed is failed after this
  metricsToken: string | null;
  /** VAPID subject (mailto: or https:) push services may contact; null: derived from the public URL. */
  pushContact: string | null;
  pushRetryBaseMs: number; // retries wait base, base*4, base*16 …
  pushTimeoutMs: number;
  pushMaxInFlight: number; // pushes in flight at once, over all push services
  pushMaxPerOrigin: number; // …and per push service, so a hung one leaves room for the others
  /** File descriptors kept free for the database, people and /healthz; null: a tenth of the limit (ops/socket-budget.ts). */
  fdHeadroom: number | null;
  // Retention (ops/retention.ts), in ms; 0: kept forever.
  keepDeliveriesMs: number; // delivered outbox events, by delivery time
  keepRunsMs: number; // finished task runs, by finish time
  keepActivityMs: number;
  keepMessagesMs: number;
}

export const DEFAULTS = {
  port: 8000,
  host: "0.0.0.0",
  dataDir: "./nod-data",
  logLevel: "info" as LogLevel,
  webhookRetryBaseMs: 2000,
  webhookRetryWindowMs: 24 * 3_600_000,
  webhookTimeoutMs: 30_000,
  runTimeoutMs: 24 * 3_600_000,
  pushRetryBaseMs: 2000,
  pushTimeoutMs: 30_000,
  pushMaxInFlight: 64,
  keepDeliveriesMs: 7 * 86_400_000,
  keepRunsMs: 90 * 86_400_000,
  keepActivityMs: 90 * 86_400_000,
  keepMessagesMs: 0,
};

export function makeConfig(partial: Partial<Config> & { dataDir: string }): Config {
  const port = partial.port ?? DEFAULTS.port;
  return {
    port,
    host: partial.host ?? DEFAULTS.host,
    dataDir: partial.dataDir,
    databaseUrl: partial.databaseUrl ?? null,
    publicUrl: (partial.publicUrl ?? `http://localhost:${port}`).replace(/\/+$/, ""),
    logLevel: partial.logLevel ?? DEFAULTS.logLevel,
    instance: partial.instance ?? null,
    webhookBlockPrivate: partial.webhookBlockPrivate ?? false,
    webhookRetryBaseMs: partial.webhookRetryBaseMs ?? DEFAULTS.webhookRetryBaseMs,
    webhookRetryWindowMs: partial.webhookRetryWindowMs ?? DEFAULTS.webhookRetryWindowMs,
    webhookTimeoutMs: partial.webhookTimeoutMs ?? DEFAULTS.webhookTimeoutMs,
    runTimeoutMs: partial.runTimeoutMs ?? DEFAULTS.runTimeoutMs,
    metricsToken: partial.metricsToken ?? null,
    pushContact: partial.pushContact ?? null,
    pushRetryBaseMs: partial.pushRetryBaseMs ?? DEFAULTS.pushRetryBaseMs,
    pushTimeoutMs: partial.pushTimeoutMs ?? DEFAULTS.pushTimeoutMs,
    pushMaxInFlight: partial.pushMaxInFlight ?? DEFAULTS.pushMaxInFlight,
    pushMaxPerOrigin: partial.pushMaxPerOrigin ?? Math.max(1, Math.ceil((partial.pushMaxInFlight ?? DEFAULTS.pushMaxInFlight) / 2)),
    fdHeadroom: partial.fdHeadroom ?? null,
    keepDeliveriesMs: partial.keepDeliveriesMs ?? DEFAULTS.keepDeliveriesMs,
    keepRunsMs: partial.keepRunsMs ?? DEFAULTS.keepRunsMs,
    keepActivityMs: partial.keepActivityMs ?? DEFAULTS.keepActivityMs,
    keepMessagesMs: partial.keepMessagesMs ?? DEFAULTS.keepMessagesMs,
  };
}

/** What names this process where several share a database: --instance, or the host name. */
export const instanceName = (config: Config) => config.instance ?? hostname();

/** An instance name: a host name's characters, so it reads plainly in a log line and a metric label. */
export const INSTANCE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
