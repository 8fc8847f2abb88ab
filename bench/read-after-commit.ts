// bun bench/read-after-commit.ts [--mmap]
//
// What a read on a second WAL connection pays when the writer committed just
// before it: SQLite drops that connection's whole page cache whenever another
// connection changed the database, so a primary-key lookup reads its b-tree
// pages again. The same lookup on the writer's own connection keeps its cache.
// (Measured for the async store seam, docs/scale.md; --mmap maps the reader.)
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const ROWS = 50_000;
const N = 20_000;
const dir = mkdtempSync(path.join(tmpdir(), "nod-read-after-commit-"));
const file = path.join(dir, "x.db");
const writer = new Database(file, { create: true });
for (const p of ["journal_mode = WAL", "synchronous = NORMAL", "cache_size = -65536"]) writer.run(`PRAGMA ${p}`);
writer.run("CREATE TABLE c (id TEXT PRIMARY KEY, agent_id TEXT, body TEXT)");
writer.run("CREATE TABLE m (id INTEGER PRIMARY KEY, body TEXT)");
const insert = writer.prepare("INSERT INTO c VALUES (?, ?, ?)");
writer.transaction(() => {
  for (let i = 0; i < ROWS; i++) insert.run(`conv_${i}`, `agt_${i % 10}`, "x".repeat(200));
})();
const reader = new Database(file);
for (const p of ["query_only = ON", "cache_size = -65536", ...(process.argv.includes("--mmap") ? ["mmap_size = 268435456"] : [])]) reader.run(`PRAGMA ${p}`);
const commit = writer.prepare("INSERT INTO m (body) VALUES (?)");
const lookup = (db: Database) => db.prepare("SELECT agent_id FROM c WHERE id = ?");

function measure(label: string, q: ReturnType<typeof lookup>, commitBefore: boolean) {
  const us: number[] = [];
  for (let rep = 0; rep < 7; rep++) {
    let spent = 0;
    for (let i = 0; i < N; i++) {
      if (commitBefore) commit.run("y".repeat(100));
      const t0 = performance.now();
      q.get(`conv_${(i * 7919) % ROWS}`);
      spent += performance.now() - t0;
    }
    us.push((spent / N) * 1000);
  }
  us.sort((a, b) => a - b);
  console.log(`${label.padEnd(40)} ${us[3]!.toFixed(1)} µs [${us[0]!.toFixed(1)}–${us[6]!.toFixed(1)}]`);
}
measure("second connection, no commit between", lookup(reader), false);
measure("second connection, a commit before each", lookup(reader), true);
measure("writer's connection, a commit before each", lookup(writer), true);
reader.close();
writer.close();
rmSync(dir, { recursive: true, force: true });
