// nod alert TITLE [TEXT] — an entry in the agent's activity feed.
import { parseArgs, UsageError } from "./args.ts";
import { AGENT_ENV_HELP, AgentApi, agentEnv } from "./client.ts";

export const ALERT_HELP = `Usage: nod alert TITLE [TEXT]

Log an entry in the agent's activity feed (while the agent shows
"Thinking…", the title also becomes the indicator's text).
  nod alert "Deployed v1.4.2" "3 services restarted"

Flags:
  --run ID     tie the entry to a task run (default $NOD_RUN_ID when set)
  --json       print the server's reply (activity_id) as JSON
  -h, --help   show this help

${AGENT_ENV_HELP}`;

export async function alert(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs(argv, { run: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } });
  if (flags.help) return void process.stdout.write(ALERT_HELP), 0;
  const [title, text, ...rest] = positional;
  if (!title?.trim()) throw new UsageError("missing TITLE");
  if (rest.length) throw new UsageError(`unexpected argument: ${rest[0]} (quote TEXT if it has spaces)`);
  const api = new AgentApi(agentEnv());
  const runId = flags.run ?? (process.env.NOD_RUN_ID || undefined);
  const reply = await api.event({ type: "alert", title, ...(text ? { text } : {}), ...(runId ? { task_run_id: runId } : {}) });
  if (flags.json) process.stdout.write(JSON.stringify(reply) + "\n");
  return 0;
}
