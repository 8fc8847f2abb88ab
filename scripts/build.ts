#!/usr/bin/env bun
// Builds the one-file nod executable: the server, the migrations (drizzle/ for
// SQLite and drizzle-pg/ for PostgreSQL, embedded assets) and the inbox
// (bundled into dist/inbox, embedded as an asset).
//
//   bun run build                 dist/nod for this machine
//   bun run build --all           dist/nod-linux-x64, dist/nod-linux-arm64, dist/nod-darwin-arm64
//   bun run build --target linux-arm64 [--outfile PATH]
//
// The version comes from package.json, the commit from `git rev-parse`; both
// are compiled in, so `nod version` prints `nod 0.1.0 (abc1234)`.
import path from "node:path";
import { mkdirSync, rmSync, statSync } from "node:fs";
import { parseArgs } from "node:util";
import { VERSION } from "../server/version.ts";
import { BUNDLE_DIR, bundleWebApp } from "../server/web.ts";

const ROOT = path.resolve(import.meta.dir, "..");
const TARGETS = ["linux-x64", "linux-arm64", "darwin-arm64"] as const;
type Target = (typeof TARGETS)[number];

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    all: { type: "boolean", default: false },
    target: { type: "string", multiple: true },
    outfile: { type: "string" },
    "no-bytecode": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  console.log(`Usage: bun run build [--all | --target ${TARGETS.join("|")}]... [--outfile PATH]`);
  process.exit(0);
}

/** NOD_COMMIT when set (container builds have no .git), else git's short hash, else "unknown". */
function gitCommit(): string {
  if (process.env.NOD_COMMIT) return process.env.NOD_COMMIT;
  try {
    const head = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: ROOT, stdout: "pipe", stderr: "ignore" });
    if (head.exitCode === 0) return head.stdout.toString().trim();
  } catch {} // no git installed
  return "unknown";
}

/** Bundles the inbox into dist/inbox, the folder the binary embeds (server/web.ts serves it). */
async function bundleInbox() {
  const dir = path.join(ROOT, BUNDLE_DIR);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const result = await bundleWebApp();
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error("could not bundle the inbox (web/)");
  }
  for (const out of result.outputs) await Bun.write(path.join(dir, path.basename(out.path)), out);
}

export async function build(opts: { target?: Target; outfile: string; commit: string; bytecode: boolean }) {
  const t0 = performance.now();
  mkdirSync(path.dirname(opts.outfile), { recursive: true });
  await bundleInbox();
  const result = await Bun.build({
    entrypoints: [path.join(ROOT, "server/main.ts")],
    compile: {
      ...(opts.target ? { target: `bun-${opts.target}` as Bun.Build.CompileTarget } : {}),
      outfile: opts.outfile,
      // Embedded at /$bunfs/root/<basename> (drizzle, drizzle-pg, inbox); server/paths.ts
      // finds them there. The basenames must differ: --asset keeps only the last part.
      assets: [path.join(ROOT, "drizzle"), path.join(ROOT, "drizzle-pg"), path.join(ROOT, BUNDLE_DIR)],
      // A binary run from any directory must not pick up that directory's
      // .env or bunfig.toml (it would silently change ports, data dirs…).
      autoloadDotenv: false,
      autoloadBunfig: false,
    },
    minify: true,
    sourcemap: "none",
    // Bytecode halves the start-up time; it needs ESM for top-level await.
    bytecode: opts.bytecode,
    format: "esm",
    define: {
      NOD_BUILD_COMMIT: JSON.stringify(opts.commit),
    },
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error(`build failed${opts.target ? ` for ${opts.target}` : ""}`);
  }
  const size = statSync(opts.outfile).size;
  const rel = path.relative(process.cwd(), opts.outfile) || opts.outfile;
  console.log(`built ${rel} (${(size / 1024 / 1024).toFixed(1)} MiB, nod ${VERSION} ${opts.commit}) in ${Math.round(performance.now() - t0)} ms`);
}

if (import.meta.main) {
  const commit = gitCommit();
  const bytecode = !values["no-bytecode"];
  const targets = (values.all ? [...TARGETS] : (values.target ?? [])) as string[];
  for (const t of targets) {
    if (!TARGETS.includes(t as Target)) {
      console.error(`unknown target ${t} (one of ${TARGETS.join(", ")})`);
      process.exit(2);
    }
  }
  try {
    if (targets.length === 0) {
      await build({ outfile: path.resolve(values.outfile ?? path.join(ROOT, "dist/nod")), commit, bytecode });
    } else {
      if (values.outfile && targets.length > 1) throw new Error("--outfile takes one target");
      for (const target of targets as Target[])
        await build({ target, outfile: path.resolve(values.outfile ?? path.join(ROOT, `dist/nod-${target}`)), commit, bytecode });
    }
  } catch (e) {
    console.error(String((e as Error).message ?? e));
    process.exit(1);
  }
}
