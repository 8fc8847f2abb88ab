// bun bench/all.ts [--seconds N] [--limit N] [--only a,b] [--markdown]
//
// Every figure docs/performance.md keeps, in one run, with the machine they
// come from (nproc, CPU model, load average before and after: other work on
// the machine shows in the figures). --markdown prints the doc's table.
//
// A section is a module under bench/ that exports
//   figures(opts: { seconds?: number; limit?: number }): Promise<Figure[]>
// (Figure: bench/lib.ts). To add one, write it and list it in SECTIONS; a
// listed module that does not export figures() yet is shown as "to do" with the
// command that prints its numbers on their own.
import { parseArgs } from "node:util";
import { machine, printFigures, type Figure } from "./lib.ts";

interface Section {
  name: string;
  module: string; // relative to bench/
  what: string;
  standalone?: string; // the command that measures it meanwhile
}

export const SECTIONS: Section[] = [
  { name: "ingest", module: "./ingest.ts", what: "REST and one-WebSocket ingest: nod against a bare Bun.serve (ceiling) and Bun.serve + sqlite" },
  { name: "sockets", module: "./sockets.ts", what: "idle agent sockets up to the open-file limit: memory per socket, /healthz at the limit, past the limit" },
  // Hooks for the query and delivery side (another helper's figures):
  { name: "person-to-agent", module: "./person-to-agent.ts", what: "person → agent delivery latency at 200 and 1,000 events/s", standalone: "bun bench/fanout.ts" },
  { name: "scheduler", module: "./scheduler-due.ts", what: "scheduler with 10,000 and 100,000 runs due at once", standalone: "bun bench/scheduler.ts 3 10000" },
  { name: "lists", module: "./lists.ts", what: "people's lists (conversations, messages, activity) over 1,000,000 messages" },
];

type Opts = { seconds?: number; limit?: number };

async function runSection(s: Section, opts: Opts): Promise<Figure[]> {
  let mod: { figures?: (o: Opts) => Promise<Figure[]> };
  try {
    mod = await import(s.module);
  } catch {
    mod = {};
  }
  if (typeof mod.figures !== "function")
    return [{ section: s.name, what: s.what, value: `to do (bench/${s.module.slice(2)} with figures())${s.standalone ? `; meanwhile: ${s.standalone}` : ""}` }];
  try {
    return await mod.figures(opts);
  } catch (e) {
    return [{ section: s.name, what: s.what, value: `failed: ${(e as Error).message}` }];
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { seconds: { type: "string" }, limit: { type: "string" }, only: { type: "string" }, markdown: { type: "boolean" } },
  });
  const only = values.only?.split(",");
  const opts: Opts = { seconds: values.seconds ? Number(values.seconds) : undefined, limit: values.limit ? Number(values.limit) : undefined };
  const m = machine();
  console.log(`nod benchmarks — ${m.date}, ${m.nproc} × ${m.model}, ${m.memGiB.toFixed(0)} GiB, bun ${m.bun}, loopback`);
  console.log(`load average before: ${m.load}`);
  const figures: Figure[] = [];
  for (const s of SECTIONS) {
    if (only && !only.includes(s.name)) continue;
    const t0 = performance.now();
    figures.push(...(await runSection(s, opts)));
    console.error(`  (${s.name}: ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  console.log(`load average after: ${machine().load}`);
  printFigures(figures, values.markdown);
}
