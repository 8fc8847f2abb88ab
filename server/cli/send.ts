// nod send [TEXT] — the agent sends a chat message (TEXT, or standard input).
import { parseArgs, UsageError } from "./args.ts";
import { AGENT_ENV_HELP, AgentApi, agentEnv, readStdinText } from "./client.ts";

export const SEND_HELP = `Usage: nod send [TEXT] [--conversation ID]

Send a chat message as the agent. Without TEXT the message is read from
standard input, e.g.  make test 2>&1 | tail -20 | nod send

Flags:
  --conversation ID   the conversation (default: the agent's default conversation)
  --run ID            tie the message to a task run (default $NOD_RUN_ID when set)
  --json              print the server's reply (message_id, conversation_id) as JSON
  -h, --help          show this help

${AGENT_ENV_HELP}`;

export async function send(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs(argv, {
    conversation: { type: "string" },
    run: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (flags.help) return void process.stdout.write(SEND_HELP), 0;
  if (positional.length > 1) throw new UsageError("give the message as one argument (quote it), or on standard input");
  const api = new AgentApi(agentEnv());
  let text = positional[0] ?? (await readStdinText()).replace(/\s+$/, "");
  if (!text.trim()) throw new UsageError("nothing to send: give TEXT or pipe the message in");
  const runId = flags.run ?? (process.env.NOD_RUN_ID || undefined);
  const reply = await api.event({
    type: "message",
    text,
    ...(flags.conversation ? { conversation_id: flags.conversation } : {}),
    ...(runId ? { task_run_id: runId } : {}),
  });
  if (flags.json) process.stdout.write(JSON.stringify(reply) + "\n");
  return 0;
}
