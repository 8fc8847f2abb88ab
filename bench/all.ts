// bun bench/all.ts [--seconds N] [--limit N] [--messages N] [--only a,b] [--skip a,b] [--markdown]
//
// Every figure docs/performance.md keeps, in one run, with the machine they
// come from (nproc, CPU model, load average before and after: other work on
// the machine shows in the figures). --markdown prints the doc's table.
// Sections: ingest, sockets, person-to-agent, scheduler, lists (about 7 minutes
// in all on 2 cores; --only / --skip pick them). --seconds: per load run
// (ingest, person-to-agent; default 5); --limit: sockets' open-file limit;
// --messages: the lists' database size (default 1,000,000).
//
// A section is a module under bench/ that exports
//   figures(opts: { seconds?: number; limit?: number; messages?: number }): Promise<Figure[]>
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
  { name: "person-to-agent", module: "./person-agent.ts", what: "a person's message or answer to an agent's socket at 200 and 1,000 events/s: server CPU and latency" },
  { name: "scheduler", module: "./scheduler.ts", what: "scheduler with 10,000 and 100,000 runs due at once" },
  { name: "lists", module: "./lists.ts", what: "people's pages, counts and mark-read over 1,000,000 messages; the run-timeout sweep over 300,000 open runs" },
];

type Opts = { seconds?: number; limit?: number; messages?: number };

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
    options: {
      seconds: { type: "string" },
      limit: { type: "string" },
      messages: { type: "string" },
      only: { type: "string" },
      skip: { type: "string" },
      markdown: { type: "boolean" },
    },
  });
  const only = values.only?.split(",");
  const skip = values.skip?.split(",") ?? [];
  for (const name of [...(only ?? []), ...skip])
    if (!SECTIONS.some((s) => s.name === name)) throw new Error(`no section "${name}": ${SECTIONS.map((s) => s.name).join(", ")}`);
  const num = (v: string | undefined) => (v ? Number(v) : undefined);
  const opts: Opts = { seconds: num(values.seconds), limit: num(values.limit), messages: num(values.messages) };
  const m = machine();
  console.log(`nod benchmarks — ${m.date}, ${m.nproc} × ${m.model}, ${m.memGiB.toFixed(0)} GiB, bun ${m.bun}, loopback`);
  console.log(`load average before: ${m.load}`);
  const figures: Figure[] = [];
  const start = performance.now();
  for (const s of SECTIONS) {
    if ((only && !only.includes(s.name)) || skip.includes(s.name)) continue;
    const t0 = performance.now();
    figures.push(...(await runSection(s, opts)));
    console.error(`  (${s.name}: ${((performance.now() - t0) / 1000).toFixed(0)} s, load average ${machine().load})`);
  }
  console.log(`load average after: ${machine().load}; ${((performance.now() - start) / 60_000).toFixed(1)} minutes in all`);
  printFigures(figures, values.markdown);
}
