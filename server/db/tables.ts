// The tables the services write and read: SQLite's (schema.ts) by default, or
// PostgreSQL's (schema-pg.ts) once the process opened a PostgreSQL store
// (useDialect("pg"), called by openStore before anything runs a query). These
// are live bindings: a module that imported `agents` from here sees the
// switch. Their static types are SQLite's; test/tables.test.ts checks that
// every table selects and inserts the same TypeScript type in both files, so
// the services' types hold on either store.
import * as sqlite from "./schema.ts";
import * as pg from "./schema-pg.ts";

export type Dialect = "sqlite" | "pg";

type Tables = Omit<typeof sqlite, never>;
const sqliteTables: Tables = sqlite;
// The PostgreSQL tables under SQLite's types (their row types are equal: test/tables.test.ts).
const pgTables = pg as unknown as Tables;

export let dialect: Dialect = "sqlite";
export let users = sqlite.users;
export let sessions = sqlite.sessions;
export let authLimits = sqlite.authLimits;
export let authKnownAddresses = sqlite.authKnownAddresses;
export let agents = sqlite.agents;
export let conversations = sqlite.conversations;
export let messages = sqlite.messages;
export let decisions = sqlite.decisions;
export let activity = sqlite.activity;
export let tasks = sqlite.tasks;
export let taskRuns = sqlite.taskRuns;
export let runContext = sqlite.runContext;
export let outbox = sqlite.outbox;
export let serverSettings = sqlite.serverSettings;
export let pushSubscriptions = sqlite.pushSubscriptions;
export let pushSettings = sqlite.pushSettings;
export let pushQueue = sqlite.pushQueue;
export let media = sqlite.media;

/** Points every table above at one dialect's definitions (one store per process). */
export function useDialect(d: Dialect) {
  const t = d === "pg" ? pgTables : sqliteTables;
  dialect = d;
  users = t.users;
  sessions = t.sessions;
  authLimits = t.authLimits;
  authKnownAddresses = t.authKnownAddresses;
  agents = t.agents;
  conversations = t.conversations;
  messages = t.messages;
  decisions = t.decisions;
  activity = t.activity;
  tasks = t.tasks;
  taskRuns = t.taskRuns;
  runContext = t.runContext;
  outbox = t.outbox;
  serverSettings = t.serverSettings;
  pushSubscriptions = t.pushSubscriptions;
  pushSettings = t.pushSettings;
  pushQueue = t.pushQueue;
  media = t.media;
}
