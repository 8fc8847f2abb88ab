// The PostgreSQL the benchmarks run against: the server at --url (or
// NOD_BENCH_DATABASE_URL), or a cluster of their own started with
// scripts/pg-cluster.sh --durable (fsync and synchronous_commit on, as a real
// server runs; --fast: fsync off). Each benchmark works in fresh databases it
// drops at the end.
import { SQL } from "bun";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dir, "..");
const clusterScript = path.join(root, "scripts/pg-cluster.sh");

export interface BenchPg {
  /** A new empty database; its URL. */
  database(prefix?: string): Promise<string>;
  /** Drops the databases made, stops the cluster if this started it. */
  close(): Promise<void>;
}

export async function benchPg(opts: { url?: string; fast?: boolean }): Promise<BenchPg> {
  let clusterDir: string | undefined;
  let serverUrl = opts.url ?? process.env.NOD_BENCH_DATABASE_URL;
  if (!serverUrl) {
    clusterDir = mkdtempSync(path.join(tmpdir(), "nod-pg-bench-"));
    const started = Bun.spawnSync([clusterScript, "start", clusterDir, ...(opts.fast ? [] : ["--durable"])], { stderr: "inherit" });
    if (started.exitCode !== 0) throw new Error("could not start PostgreSQL (scripts/pg-cluster.sh)");
    serverUrl = started.stdout.toString().trim();
  }
  const admin = new SQL(serverUrl, { max: 1 });
  const made: string[] = [];
  return {
    async database(prefix = "nod_bench") {
      const name = `${prefix}_${Date.now().toString(36)}${made.length}`;
      await admin.unsafe(`CREATE DATABASE ${name}`);
      made.push(name);
      const url = new URL(serverUrl);
      url.pathname = `/${name}`;
      return url.toString();
    },
    async close() {
      for (const name of made) await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
      await admin.close();
      if (clusterDir) Bun.spawnSync([clusterScript, "stop", clusterDir]);
    },
  };
}
