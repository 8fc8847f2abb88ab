// bun bench/pg-driver.ts [seconds] [--pool N] [--rounds N] [--only REGEX] [--fast] [--url URL]
//
// Which PostgreSQL driver for nod: Bun's built-in Bun.sql or the `postgres`
// npm package (postgres.js), each raw and through drizzle, on nod's two write
// shapes with 32 concurrent clients:
//   insert  one INSERT per request, autocommit (a message event's row)
//   tx      BEGIN; INSERT message; UPDATE conversation; INSERT outbox row; COMMIT
//           (a person's message to an agent), statements awaited one by one as
//           a service writes them
//   group tx  the same units, group-committed as nod's SQLite writer does: the
//           units queued while a batch commits share one transaction on one
//           connection, each in its own savepoint
// Prints operations/s and p50/p99 latency per driver and shape: each run, then
// the medians over the rounds.
//
// Without --url it starts its own cluster with scripts/pg-cluster.sh
// --durable (fsync and synchronous_commit on, as a real server runs), which
// needs PostgreSQL installed (and, as root, the postgres user); --fast starts
// it with fsync off instead, which leaves the drivers' own costs to compare.
import { SQL } from "bun";
import postgres from "postgres";
import { loadavg } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { eq } from "drizzle-orm";
import { drizzle as drizzleBun } from "drizzle-orm/bun-sql";
import { migrate } from "drizzle-orm/bun-sql/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import * as schema from "../server/db/schema-pg.ts";
import { benchPg } from "./pg.ts";
import { percentile } from "./lib.ts";
import { timeId } from "../server/lib/ids.ts";

const { values, positionals } = parseArgs({
  args: Bun.argv.slice(2),
  options: { fast: { type: "boolean", default: false }, pool: { type: "string", default: "10" }, rounds: { type: "string", default: "3" }, only: { type: "string" }, url: { type: "string" } },
  allowPositionals: true,
});
const SECONDS = Number(positionals[0] ?? 5);
const POOL = Number(values.pool);
const ROUNDS = Number(values.rounds);
const CONCURRENCY = 32;
const root = path.resolve(import.meta.dir, "..");

const pg = await benchPg({ url: values.url, fast: values.fast });
const dbUrl = await pg.database();

interface Result {
  ops: number;
  seconds: number;
  cpuUs: number; // this process's CPU time per operation (driver + drizzle cost, steadier than rates on a busy machine)
  p50: number;
  p99: number;
}

/** CONCURRENCY clients, each doing op back to back for SECONDS. */
async function load(op: () => PromiseLike<unknown>, seconds = SECONDS): Promise<Result> {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const s = performance.now();
        await op();
        latencies.push(performance.now() - s);
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  return { ops: latencies.length, seconds: elapsed, cpuUs: (cpu.user + cpu.system) / latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

/** The runs of one case across rounds; its line shows the medians. */
const runs = new Map<string, Result[]>();
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(name: string, op: () => PromiseLike<unknown>) {
  await load(op, 1); // warm-up: connections, prepared statements
  const r = await load(op);
  runs.set(name, [...(runs.get(name) ?? []), r]);
  console.log(`  ${fmt(name, [r])}`);
}

function fmt(name: string, rs: Result[]) {
  const perSecond = median(rs.map((r) => r.ops / r.seconds));
  return `${name.padEnd(30)} ${perSecond.toFixed(0).padStart(7)} /s   p50 ${median(rs.map((r) => r.p50)).toFixed(2).padStart(6)} ms   p99 ${median(rs.map((r) => r.p99)).toFixed(2).padStart(7)} ms   client CPU ${median(rs.map((r) => r.cpuUs)).toFixed(0).padStart(4)} µs/op`;
}

try {
  // The real tables (drizzle-pg's migrations) and one agent with a conversation.
  const setup = new SQL(dbUrl, { max: 1 });
  await migrate(drizzleBun({ client: setup }), { migrationsFolder: path.join(root, "drizzle-pg") });
  const now = new Date().toISOString();
  await setup`INSERT INTO agents (id, name, type, secret_hash, webhook_secret, created_at, updated_at) VALUES ('agt_bench', 'Bench', 'interactive', 'x', 'x', ${now}, ${now})`;
  await setup`INSERT INTO conversations (id, agent_id, title, is_default, created_at, updated_at) VALUES ('conv_bench', 'agt_bench', 'Bench', true, ${now}, ${now})`;
  await setup.close();
  const text = "Deployed **build #42** to staging; all checks passed.";
  const payload = JSON.stringify({ type: "user_message", text });
  const pg = (await (async () => {
    const s = new SQL(dbUrl, { max: 1 });
    const [v] = await s`SELECT current_setting('server_version') AS v, current_setting('fsync') AS f, current_setting('synchronous_commit') AS c`;
    await s.close();
    return v;
  })()) as { v: string; f: string; c: string };
  console.log(`PostgreSQL ${pg.v} (fsync ${pg.f}, synchronous_commit ${pg.c}), ${CONCURRENCY} clients, pool ${POOL}, ${SECONDS} s per run, bun ${Bun.version}\n`);

  const bun = new SQL(dbUrl, { max: POOL });
  const dbBun = drizzleBun({ client: bun, schema });
  const pjs = postgres(dbUrl, { max: POOL, onnotice: () => {} });
  const dbPjs = drizzlePostgres({ client: pjs, schema });
  const insertSql = (sql: Tag) =>
    sql`INSERT INTO messages (id, conversation_id, agent_id, role, text, created_at) VALUES (${timeId("msg_")}, 'conv_bench', 'agt_bench', 'agent', ${text}, ${new Date().toISOString()})`;
  const txSql = async (tx: Tag) => {
    const at = new Date().toISOString();
    await tx`INSERT INTO messages (id, conversation_id, agent_id, role, text, created_at) VALUES (${timeId("msg_")}, 'conv_bench', 'agt_bench', 'user', ${text}, ${at})`;
    await tx`UPDATE conversations SET updated_at = ${at} WHERE id = 'conv_bench'`;
    await tx`INSERT INTO outbox (id, agent_id, type, payload, created_at) VALUES (${timeId("evt_")}, 'agt_bench', 'user_message', ${payload}, ${at})`;
  };
  const group = groupCommit(bun);
  // Both drivers' tagged templates, as the statements below use them.
  type Tag = (strings: TemplateStringsArray, ...values: unknown[]) => PromiseLike<unknown>;
  const allCases: [string, () => PromiseLike<unknown>][] = [
    ["Bun.sql insert", () => insertSql(bun as unknown as Tag)],
    ["Bun.sql tx", () => bun.begin((tx) => txSql(tx as unknown as Tag))],
    ["Bun.sql group tx", () => group((sp) => txSql(sp as unknown as Tag))],
    ["drizzle + Bun.sql insert", () => dbBun.insert(schema.messages).values(messageRow("agent", text))],
    ["drizzle + Bun.sql tx", () => dbBun.transaction((tx) => personMessage(tx, text, payload))],
    ["postgres.js insert", () => insertSql(pjs as unknown as Tag)],
    ["postgres.js tx", () => pjs.begin((tx) => txSql(tx as unknown as Tag))],
    ["drizzle + postgres.js insert", () => dbPjs.insert(schema.messages).values(messageRow("agent", text))],
    ["drizzle + postgres.js tx", () => dbPjs.transaction((tx) => personMessage(tx, text, payload))],
  ];
  const cases = allCases.filter(([name]) => !values.only || new RegExp(values.only).test(name));
  // Rounds in a rotating order, so neither driver always runs first (or
  // last, on a bigger table and a busier WAL); the summary takes medians.
  for (let round = 0; round < ROUNDS; round++) {
    console.log(`round ${round + 1}/${ROUNDS} (load average ${loadavg()[0]!.toFixed(1)})`);
    const shift = Math.floor((round * cases.length) / 2) % cases.length; // alternate which driver goes first
    for (const [name, op] of [...cases.slice(shift), ...cases.slice(0, shift)]) await measure(name, op);
  }
  console.log(`\nmedians over ${ROUNDS} rounds:`);
  for (const [name] of cases) console.log(fmt(name, runs.get(name)!));
  // The fan-out between instances will ride on LISTEN/NOTIFY: one NOTIFY
  // after another, sent on the pool, received on Bun.sql's listen connection.
  const waiting: (() => void)[] = [];
  const sub = await bun.listen("nod_bench", () => waiting.shift()?.());
  const rtt: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const t = performance.now();
    const received = new Promise<void>((r) => waiting.push(r));
    await bun.notify("nod_bench", JSON.stringify({ type: "message", id: timeId("msg_") }));
    await received;
    rtt.push(performance.now() - t);
  }
  rtt.sort((a, b) => a - b);
  console.log(`Bun.sql NOTIFY → listener (1000 in a row)   p50 ${percentile(rtt, 50).toFixed(2)} ms   p99 ${percentile(rtt, 99).toFixed(2)} ms`);
  await sub.unlisten();
  await bun.close();
  await pjs.end();
} finally {
  await pg.close();
}

/** nod's Writer.run on PostgreSQL, naively: one batch in flight, one transaction per batch, a savepoint per unit. */
function groupCommit(sql: SQL) {
  type Unit = { fn: (sp: SQL) => Promise<unknown>; resolve: () => void; reject: (e: unknown) => void; error?: unknown };
  let queue: Unit[] = [];
  let running = false;
  async function drain() {
    running = true;
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        await sql.begin(async (tx) => {
          for (const unit of batch) await tx.savepoint((sp) => unit.fn(sp)).catch((e: unknown) => (unit.error = e));
        });
        for (const unit of batch) (unit.error ? unit.reject(unit.error) : unit.resolve());
      } catch (e) {
        for (const unit of batch) unit.reject(e);
      }
    }
    running = false;
  }
  return (fn: Unit["fn"]) =>
    new Promise<void>((resolve, reject) => {
      queue.push({ fn, resolve, reject });
      if (!running) void drain();
    });
}

function messageRow(role: "agent" | "user", text: string) {
  return { id: timeId("msg_"), conversationId: "conv_bench", agentId: "agt_bench", role, text, createdAt: new Date().toISOString() };
}

/** The statements of a person's message to an agent, as a service would write them. */
async function personMessage(tx: Pick<PgDatabase<PgQueryResultHKT, typeof schema>, "insert" | "update">, text: string, payload: string) {
  const at = new Date().toISOString();
  await tx.insert(schema.messages).values({ ...messageRow("user", text), createdAt: at });
  await tx.update(schema.conversations).set({ updatedAt: at }).where(eq(schema.conversations.id, "conv_bench"));
  await tx.insert(schema.outbox).values({ id: timeId("evt_"), agentId: "agt_bench", type: "user_message", payload, createdAt: at });
}
