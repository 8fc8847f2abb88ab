// nod mcp — the agent's tools for an MCP client (Claude Code, Claude Desktop,
// Cursor, Codex …) over stdio. The SDK is loaded only when the command runs,
// so the other commands (and the server) start without it.
import { parseArgs, UsageError } from "./args.ts";
import { AGENT_ENV_HELP, agentEnv, durationFlag } from "./client.ts";
import { parseDuration } from "../lib/time.ts";

export const MCP_HELP = `Usage: nod mcp [--permission-timeout 10m]

A Model Context Protocol server on standard input and output, for the agent
in NOD_API_URL, NOD_AGENT_ID and NOD_SECRET. Its tools:
  request_permission  Claude Code's --permission-prompt-tool: a permission
                      request in the inbox, with always-allow patterns
  ask                 ask a question, an approval or a choice; answers
                      "pending" after a while (then check_answer)
  check_answer        the answer to an earlier ask, waiting a while for it
  send_message        a chat message to the people in the inbox
  log_activity        an entry in the activity feed

  claude mcp add nod -e NOD_API_URL=… -e NOD_AGENT_ID=… -e NOD_SECRET=… -- nod mcp
  claude -p "…" --permission-prompt-tool mcp__nod__request_permission

Flags:
  --permission-timeout D  deny (and withdraw the request) when nobody answers
                          a permission request within D (default 10m)
  -h, --help              show this help

Standard output carries the protocol only; messages go to standard error.

${AGENT_ENV_HELP}  NOD_HOOK_STATE where always-allowed patterns are kept (shared with
                 nod claude-hook; default ~/.config/nod/always-allow.json)
`;

export async function mcp(argv: string[]): Promise<number | undefined> {
  const { flags, positional } = parseArgs(argv, { "permission-timeout": { type: "string" }, help: { type: "boolean", short: "h" } });
  if (flags.help) return void process.stdout.write(MCP_HELP), 0;
  if (positional.length) throw new UsageError(`unexpected argument: ${positional[0]}`);
  const permissionTimeout = flags["permission-timeout"] ?? "10m";
  const permissionTimeoutMs = durationFlag("permission-timeout", permissionTimeout, parseDuration)!;
  const env = agentEnv();
  const { serveMcp } = await import("./mcp-server.ts");
  await serveMcp(env, { permissionTimeoutMs, permissionTimeout });
  return undefined; // runs until the client closes standard input
}
