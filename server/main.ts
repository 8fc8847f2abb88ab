#!/usr/bin/env bun
// The nod command line: one binary is the server and the agents' client.
// One file per command in cli/; this file only dispatches.
import { VERSION, COMMIT } from "./version.ts";
import { UsageError } from "./cli/args.ts";
import { CliFailure } from "./cli/client.ts";
import { serve, SERVE_HELP } from "./cli/serve.ts";
import { user, USER_HELP } from "./cli/user.ts";
import { agent, AGENT_HELP } from "./cli/agent.ts";
import { backup, BACKUP_HELP } from "./cli/backup.ts";
import { migrateCommand, MIGRATE_HELP } from "./cli/migrate.ts";
import { version, VERSION_HELP } from "./cli/version.ts";
import { healthcheck, HEALTHCHECK_HELP } from "./cli/healthcheck.ts";
import { send, SEND_HELP } from "./cli/send.ts";
import { alert, ALERT_HELP } from "./cli/alert.ts";
import { ask, ASK_HELP } from "./cli/ask.ts";
import { taskOutput, TASK_OUTPUT_HELP } from "./cli/task-output.ts";
import { claudeHook, CLAUDE_HOOK_HELP } from "./cli/claude-hook.ts";
import { mcp, MCP_HELP } from "./cli/mcp.ts";

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
/** writesData: the command creates files in the data directory (or a backup of it). */
export const COMMANDS: Record<string, { run: Command; help: string; hidden?: boolean; writesData?: boolean }> = {
  serve: { run: serve, help: SERVE_HELP, writesData: true },
  user: { run: user, help: USER_HELP, writesData: true },
  agent: { run: agent, help: AGENT_HELP, writesData: true },
  backup: { run: backup, help: BACKUP_HELP, writesData: true },
  migrate: { run: migrateCommand, help: MIGRATE_HELP, writesData: true },
  version: { run: version, help: VERSION_HELP },
  send: { run: send, help: SEND_HELP },
  alert: { run: alert, help: ALERT_HELP },
  ask: { run: ask, help: ASK_HELP },
  "task-output": { run: taskOutput, help: TASK_OUTPUT_HELP },
  "claude-hook": { run: claudeHook, help: CLAUDE_HOOK_HELP },
  mcp: { run: mcp, help: MCP_HELP },
  healthcheck: { run: healthcheck, help: HEALTHCHECK_HELP, hidden: true },
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
    process.stdout.write(topic ? topic.help : HELP);
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
  try {
    return (await cmd.run(rest)) ?? undefined;
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
