// bun bench/pg-writer.ts [seconds] [--rounds N] [--fast] [--url URL]
//
// What PostgreSQL's group commit (server/db/pg-writer.ts) gives a write that
// is one INSERT, with 32 concurrent callers each waiting for its commit:
//   bare tx          Bun.sql, one transaction per insert (BEGIN; INSERT; COMMIT) over the pool
//   drizzle tx       the same through drizzle (a unit that is its own transaction, no writer)
//   PgWriter         writer.run(uow => insert): units queued together share a transaction,
//                    each in its savepoint; one batch commits at a time (the default)
//   PgWriter ×N      the same with up to N batches committing at once (maxBatches), each
//                    on its own pooled connection
// Prints units/s, p50/p99 latency, the units per transaction and the client's
// CPU per unit: each round, then the medians over the rounds (the order of
// the cases rotates from round to round).
//
// Without --url it starts its own cluster with scripts/pg-cluster.sh --durable
// (fsync and synchronous_commit on, as a real server runs them); --fast starts
// it with fsync off, which leaves the round trips and the CPU.
import { SQL } from "bun";
import { loadavg, tmpdir } from "node:os";
import { parseArgs } from "node:util";
import * as pg from "../server/db/schema-pg.ts";
import { openStore, POOL_MAX } from "../server/db/store.ts";
import { asPg, PgWriter } from "../server/db/pg-writer.ts";
import type { Writer } from "../server/db/unit-of-work.ts";
import { timeId } from "../server/lib/ids.ts";
import { benchPg } from "./pg.ts";
import { percentile } from "./lib.ts";

const { values, positionals } = parseArgs({
  args: Bun.argv.slice(2),
  options: { fast: { type: "boolean", default: false }, rounds: { type: "string", default: "3" }, url: { type: "string" } },
  allowPositionals: true,
});
const SECONDS = Number(positionals[0] ?? 5);
const ROUNDS = Number(values.rounds);
const CALLERS = 32;

const server = await benchPg({ url: values.url, fast: values.fast });
const url = await server.database();


interface Result {
  units: number;
  seconds: number;
  p50: number;
  p99: number;
  cpuUs: number; // this process's CPU per unit: drizzle, the driver and the writer
  perTx: number; // units per transaction
}

/** CALLERS callers, each writing one unit after the other for SECONDS. */
async function load(op: () => Promise<unknown>, seconds = SECONDS): Promise<Omit<Result, "perTx">> {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (performance.now() < end) {
        const s = performance.now();
        await op();
        latencies.push(performance.now() - s);
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  return { units: latencies.length, seconds: (performance.now() - t0) / 1000, p50: percentile(latencies, 50), p99: percentile(latencies, 99), cpuUs: (cpu.user + cpu.system) / latencies.length };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (name: string, rs: Result[]) =>
  `${name.padEnd(14)} ${median(rs.map((r) => r.units / r.seconds)).toFixed(0).padStart(6)} units/s   p50 ${median(rs.map((r) => r.p50)).toFixed(1).padStart(6)} ms   p99 ${median(rs.map((r) => r.p99)).toFixed(1).padStart(6)} ms   ${median(rs.map((r) => r.perTx)).toFixed(1).padStart(5)} units/tx   client CPU ${median(rs.map((r) => r.cpuUs)).toFixed(0).padStart(4)} µs/unit`;

try {
  const store = await openStore({ dataDir: tmpdir(), databaseUrl: url });
  const db = asPg(store.db);
  const now = new Date().toISOString();
  await db.insert(pg.agents).values({ id: "agt_bench", name: "Bench", type: "interactive", secretHash: "x", webhookSecret: "x", createdAt: now, updatedAt: now });
  await db.insert(pg.conversations).values({ id: "conv_bench", agentId: "agt_bench", title: "Bench", isDefault: true, createdAt: now, updatedAt: now });
  const text = "Deployed **build #42** to staging; all checks passed.";
  const row = () => ({ id: timeId("msg_"), conversationId: "conv_bench", agentId: "agt_bench", role: "agent" as const, text, createdAt: new Date().toISOString() });
  const [v] = (await db.$client`SELECT current_setting('server_version') AS v, current_setting('fsync') AS f, current_setting('synchronous_commit') AS c`) as { v: string; f: string; c: string }[];
  console.log(`PostgreSQL ${v!.v} (fsync ${v!.f}, synchronous_commit ${v!.c}), ${CALLERS} callers, pool ${POOL_MAX}, ${SECONDS} s per run, bun ${Bun.version}\n`);

  // The writers share the store's pool, as in nod; each case gets its own to count its transactions.
  const writers = new Map<string, Writer>([
    ["PgWriter", store.writer],
    ["PgWriter ×2", new PgWriter(store.db, { maxBatches: 2 })],
    ["PgWriter ×4", new PgWriter(store.db, { maxBatches: 4 })],
    ["PgWriter ×8", new PgWriter(store.db, { maxBatches: 8 })],
  ]);
  const bare = db.$client;
  const cases: [string, () => Promise<unknown>, () => number][] = [
    [
      "bare tx",
      () => bare.begin((tx) => tx`INSERT INTO messages (id, conversation_id, agent_id, role, text, created_at) VALUES (${row().id}, 'conv_bench', 'agt_bench', 'agent', ${text}, ${new Date().toISOString()})`),
      () => 0,
    ],
    ["drizzle tx", () => db.transaction((tx) => tx.insert(pg.messages).values(row())), () => 0],
    ...[...writers].map(([name, w]): [string, () => Promise<unknown>, () => number] => [name, () => w.run((uow) => asPg(uow.db).insert(pg.messages).values(row())), () => w.batches]),
  ];
  const runs = new Map<string, Result[]>();
  for (let round = 0; round < ROUNDS; round++) {
    console.log(`round ${round + 1}/${ROUNDS} (load average ${loadavg()[0]!.toFixed(1)})`);
    const shift = round % cases.length;
    for (const [name, op, batches] of [...cases.slice(shift), ...cases.slice(0, shift)]) {
      await load(op, 1); // warm-up: connections, prepared statements
      const b0 = batches();
      const r = await load(op);
      const tx = batches() - b0;
      const result = { ...r, perTx: tx ? r.units / tx : 1 };
      runs.set(name, [...(runs.get(name) ?? []), result]);
      console.log(`  ${fmt(name, [result])}`);
    }
  }
  console.log(`\nmedians over ${ROUNDS} rounds:`);
  for (const [name] of cases) console.log(fmt(name, runs.get(name)!));
  await store.close();
} finally {
  await server.close();
}
