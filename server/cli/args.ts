// Flags and positional arguments, parsed by node:util's parseArgs (strict:
// unknown flags are a usage error, exit code 2). Its error messages are
// reworded into nod's own ("unknown flag: --prot", "--port needs a value").
import { parseArgs as parseNodeArgs, type ParseArgsOptionsConfig } from "node:util";

export class UsageError extends Error {}

export type FlagSpec = ParseArgsOptionsConfig;

/** Flags by name (typed by the spec) and the positional arguments (everything after `--` included). */
export function parseArgs<const O extends FlagSpec>(argv: string[], spec: O) {
  try {
    const { values, positionals } = parseNodeArgs({ args: argv, options: spec, allowPositionals: true, strict: true });
    return { flags: values, positional: positionals };
  } catch (e) {
    throw usageError(e);
  }
}

/** node:util's parse errors name the flag in quotes: 'Unknown option '--prot'', 'Option '--port <value>' argument missing'. */
function usageError(e: unknown): Error {
  const err = e as { code?: string; message?: string };
  const quoted = /'(-{0,2}[^' ]+)/.exec(err.message ?? "")?.[1] ?? "";
  const flag = quoted.startsWith("-") ? quoted : quoted.length === 1 ? `-${quoted}` : `--${quoted}`;
  switch (err.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return new UsageError(`unknown flag: ${flag}`);
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return new UsageError(`unexpected argument: ${quoted}`);
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (/does not take an argument/.test(err.message ?? "")) return new UsageError(`${flag} takes no value`);
      if (/ambiguous/.test(err.message ?? "")) return new UsageError(`${flag} needs a value (write ${flag}=-X for a value that starts with -)`);
      return new UsageError(`${flag} needs a value`);
    default:
      return e instanceof Error ? e : new Error(String(e));
  }
}

