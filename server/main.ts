#!/usr/bin/env bun
// The nod command line: one binary is the server and the agents' client.
import { VERSION, COMMIT } from "./version.ts";
import { serve, SERVE_HELP } from "./cli/serve.ts";
import { user, USER_HELP } from "./cli/user.ts";
import { UsageError } from "./cli/args.ts";

export const HELP = `nod — the inbox between AI agents and the people who work with them

Usage: nod COMMAND [flags]

Server commands:
  serve          start the server
  user add NAME  create a person (password from stdin)
  version        print the version

Run 'nod COMMAND --help' for a command's flags.
`;

type Command = (argv: string[]) => Promise<number | void>;
export const COMMANDS: Record<string, { run: Command; help: string }> = {
  serve: { run: serve, help: SERVE_HELP },
  user: { run: user, help: USER_HELP },
  version: { run: async () => void process.stdout.write(`nod ${VERSION} (${COMMIT})\n`), help: "Usage: nod version\n" },
};

export async function main(argv: string[]): Promise<number | undefined> {
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(HELP);
    return name ? 0 : 2;
  }
  if (name === "--version") return void process.stdout.write(`nod ${VERSION}\n`);
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`nod: unknown command '${name}'\nRun 'nod --help' for usage.\n`);
    return 2;
  }
  try {
    return (await cmd.run(rest)) ?? undefined;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`nod ${name}: ${e.message}\nRun 'nod ${name} --help' for usage.\n`);
      return 2;
    }
    throw e;
  }
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2));
  if (code !== undefined) process.exit(code);
}
