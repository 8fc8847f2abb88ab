#!/usr/bin/env bun
// The nod command line: one binary is the server and the agents' client.
// One file per command in cli/; this file only dispatches.
import { VERSION, COMMIT } from "./version.ts";
import { UsageError } from "./cli/args.ts";
import { CliFailure } from "./cli/client.ts";

export const HELP = `nod — the inbox between AI agents and the people who work with them

Usage: nod COMMAND [flags]

Server commands:
  serve                 start the server (web inbox at /app, agent API at /api/agent)
  user add NAME         create a person who can sign in (password from stdin)
  agent create NAME     create an agent; prints its id and secret once
  backup FILE           write a consistent copy of the database, also while serving
  migrate               create or upgrade the database, then exit
  version               print the version and commit

Agent commands (configured by NOD_API_URL, NOD_AGENT_ID, NOD_SECRET):
  send [TEXT]           send a chat message (standard input when TEXT is absent)
  alert TITLE [TEXT]    log an entry in the activity feed
  ask TITLE             ask for an approval, a choice or an answer and wait for it
  task-output           complete task run $NOD_RUN_ID with standard input as its summary
  claude-hook           Claude Code hook: tool calls become permission requests
  mcp                   MCP server (stdio): permission prompts, ask, messages, activity

Run 'nod COMMAND --help' for a command's flags.
Exit status: 0 success, 1 refused or failed, 2 bad usage, 3 timed out.
`;

type Command = (argv: string[]) => Promise<number | void>;
/**
 * Each command's module is loaded when that command runs: an agent command
 * (ask, send, claude-hook on every tool call) starts without loading the server.
 * writesData: the command creates files in the data directory (or a backup of it).
 */
export const COMMANDS: Record<string, { load: () => Promise<{ run: Command; help: string }>; hidden?: boolean; writesData?: boolean }> = {
  serve: { load: () => import("./cli/serve.ts").then((m) => ({ run: m.serve, help: m.SERVE_HELP })), writesData: true },
  user: { load: () => import("./cli/user.ts").then((m) => ({ run: m.user, help: m.USER_HELP })), writesData: true },
  agent: { load: () => import("./cli/agent.ts").then((m) => ({ run: m.agent, help: m.AGENT_HELP })), writesData: true },
  backup: { load: () => import("./cli/backup.ts").then((m) => ({ run: m.backup, help: m.BACKUP_HELP })), writesData: true },
  migrate: { load: () => import("./cli/migrate.ts").then((m) => ({ run: m.migrateCommand, help: m.MIGRATE_HELP })), writesData: true },
  version: { load: () => import("./cli/version.ts").then((m) => ({ run: m.version, help: m.VERSION_HELP })) },
  send: { load: () => import("./cli/send.ts").then((m) => ({ run: m.send, help: m.SEND_HELP })) },
  alert: { load: () => import("./cli/alert.ts").then((m) => ({ run: m.alert, help: m.ALERT_HELP })) },
  ask: { load: () => import("./cli/ask.ts").then((m) => ({ run: m.ask, help: m.ASK_HELP })) },
  "task-output": { load: () => import("./cli/task-output.ts").then((m) => ({ run: m.taskOutput, help: m.TASK_OUTPUT_HELP })) },
  "claude-hook": { load: () => import("./cli/claude-hook.ts").then((m) => ({ run: m.claudeHook, help: m.CLAUDE_HOOK_HELP })) },
  mcp: { load: () => import("./cli/mcp.ts").then((m) => ({ run: m.mcp, help: m.MCP_HELP })) },
  healthcheck: { load: () => import("./cli/healthcheck.ts").then((m) => ({ run: m.healthcheck, help: m.HEALTHCHECK_HELP })), hidden: true },
};

export async function main(argv: string[]): Promise<number | undefined> {
  const [name, ...rest] = argv;
  if (!name) {
    process.stderr.write(HELP);
    return 2;
  }
  if (name === "help" || name === "--help" || name === "-h") {
    const topic = rest[0] && COMMANDS[rest[0]];
    if (rest[0] && !topic) {
      process.stderr.write(`nod: unknown command '${rest[0]}'\nRun 'nod --help' for usage.\n`);
      return 2;
    }
    process.stdout.write(topic ? (await topic.load()).help : HELP);
    return 0;
  }
  if (name === "--version" || name === "-v") {
    process.stdout.write(`nod ${VERSION} (${COMMIT})\n`);
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    const what = name.startsWith("-") ? `unknown flag '${name}'` : `unknown command '${name}'`;
    process.stderr.write(`nod: ${what}\nRun 'nod --help' for usage.\n`);
    return 2;
  }
  // Whatever the umask, nothing nod writes is readable by other users: files SQLite
  // creates on its own (-wal, -shm, journals) start 0600 too.
  if (cmd.writesData) process.umask(0o077);
  const { run } = await cmd.load();
  try {
    return (await run(rest)) ?? undefined;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`nod ${name}: ${e.message}\nRun 'nod ${name} --help' for usage.\n`);
      return 2;
    }
    if (e instanceof CliFailure) {
      process.stderr.write(`nod ${name}: ${e.message}\n`);
      return e.code;
    }
    throw e;
  }
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2));
  if (code !== undefined) process.exit(code);
}
