// nod ask TITLE — creates a request, waits for a person's answer, prints the note.
// Exit codes: 0 approved or answered, 1 rejected or dismissed, 3 no answer in time.
import { parseArgs, UsageError } from "./args.ts";
import { AGENT_ENV_HELP, AgentApi, CliFailure, agentEnv, durationFlag, type DecisionState } from "./client.ts";
import { parseDuration } from "../lib/time.ts";

export const ASK_HELP = `Usage: nod ask TITLE [--description D] [--kind approval|choice|question]
               [--option O]... [--timeout 10m]

Ask the people in the inbox and wait for the answer. The answer's note (the
comment, the chosen option or the typed answer) is printed on standard output.
  nod ask "Deploy to production?" --description "Build #42 passed" --timeout 30m && ./deploy.sh
  db=$(nod ask "Database?" --option PostgreSQL --option SQLite)

Flags:
  --description D   the detail text under the title
  --kind K          approval (default), choice (default when --option is given) or question
  --option O        a choice; repeat for each (a free-text "Other" is always offered)
  --timeout D       give up after D (30s, 10m, 1h); default: wait as long as it takes
  --conversation ID show the request in this conversation too
  --run ID          tie the request to a task run (default $NOD_RUN_ID when set)
  --json            print the resolved request as JSON instead of the note
  -h, --help        show this help

Exit status: 0 approved or answered, 1 rejected or dismissed (or an error),
2 bad usage, 3 no answer within --timeout (the request is then withdrawn; it
shows as withdrawn in the inbox). Ctrl-C withdraws it too.

${AGENT_ENV_HELP}`;

const KINDS = ["approval", "choice", "question"];

export async function ask(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs(argv, {
    description: { type: "string", short: "d" },
    kind: { type: "string" },
    option: { type: "string", multiple: true },
    timeout: { type: "string" },
    conversation: { type: "string" },
    run: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (flags.help) return void process.stdout.write(ASK_HELP), 0;
  const [title, ...rest] = positional;
  if (!title?.trim()) throw new UsageError("missing TITLE");
  if (rest.length) throw new UsageError(`unexpected argument: ${rest[0]} (quote the title if it has spaces)`);
  const options = flags.option ?? [];
  const kind = flags.kind ?? (options.length ? "choice" : "approval");
  if (!KINDS.includes(kind)) throw new UsageError(`--kind: one of ${KINDS.join(", ")}`);
  if (kind === "choice" && !options.length) throw new UsageError("--kind choice needs at least one --option");
  if (kind !== "choice" && options.length) throw new UsageError(`--option is for --kind choice, not ${kind}`);
  const timeoutMs = durationFlag("timeout", flags.timeout, parseDuration);
  const api = new AgentApi(agentEnv());
  const runId = flags.run ?? (process.env.NOD_RUN_ID || undefined);

  // Ctrl-C or SIGTERM while waiting: withdraw the request so it does not linger in the inbox.
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let id = "";
  let d: DecisionState | null;
  try {
    d = await api.askAndWait(
      {
        type: "decision",
        kind,
        title,
        description: flags.description ?? "",
        ...(options.length ? { options } : {}),
        ...(flags.conversation ? { conversation_id: flags.conversation } : {}),
        ...(runId ? { task_run_id: runId } : {}),
      },
      timeoutMs,
      { signal: stop.signal, onCreated: (decisionId) => (id = decisionId) },
    );
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  if (!d || d.status === "expired" || d.status === "cancelled") {
    if (stop.signal.aborted) {
      process.stderr.write(`nod ask: stopped waiting; the request was withdrawn (${id})\n`);
      return 130;
    }
    process.stderr.write(`nod ask: no answer within ${flags.timeout}; the request was withdrawn (${id})\n`);
    return 3;
  }
  if (flags.json) process.stdout.write(JSON.stringify(d) + "\n");
  else if (d.note) process.stdout.write(d.note.endsWith("\n") ? d.note : d.note + "\n");
  switch (d.status) {
    case "approved":
    case "responded":
      return 0;
    case "rejected":
      process.stderr.write(`nod ask: rejected${d.note ? "" : " (no reason given)"}\n`);
      return 1;
    case "dismissed":
      process.stderr.write("nod ask: dismissed without an answer\n");
      return 1;
    default:
      throw new CliFailure(`unexpected request status ${d.status}`);
  }
}
