// nod task-output — completes the task run $NOD_RUN_ID with standard input as its summary.
import { parseArgs, UsageError } from "./args.ts";
import { AGENT_ENV_HELP, AgentApi, agentEnv, readStdinText } from "./client.ts";

export const TASK_OUTPUT_HELP = `Usage: nod task-output [--run ID] [--failed]

Complete a task run: standard input (markdown, up to 64 KiB) becomes the
run's summary, shown to people in the agent's chat and the task's history.
  ./daily-report.sh | nod task-output

Flags:
  --run ID     the run to complete (default $NOD_RUN_ID)
  --failed     mark the run failed instead of completed
  -h, --help   show this help

${AGENT_ENV_HELP}  NOD_RUN_ID     the run, as handed to the agent in task_due / task_trigger
`;

export async function taskOutput(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs(argv, { run: { type: "string" }, failed: { type: "boolean" }, help: { type: "boolean", short: "h" } });
  if (flags.help) return void process.stdout.write(TASK_OUTPUT_HELP), 0;
  if (positional.length) throw new UsageError(`unexpected argument: ${positional[0]} (the summary is read from standard input)`);
  const runId = flags.run ?? (process.env.NOD_RUN_ID?.trim() || undefined);
  if (!runId) throw new UsageError("no run: set NOD_RUN_ID or pass --run ID");
  const api = new AgentApi(agentEnv());
  const summary = (await readStdinText()).replace(/\s+$/, "");
  const status = flags.failed ? "failed" : "completed";
  await api.call("POST", `/api/agent/tasks/runs/${encodeURIComponent(runId)}/complete`, { status, summary });
  return 0;
}
