// A small flag parser: --flag value, --flag=value, boolean --flag, and
// positional arguments. Unknown flags are a usage error (exit code 2).
export class UsageError extends Error {}

export interface FlagSpec {
  [name: string]: { type: "string" | "boolean"; multiple?: boolean; short?: string };
}

export interface Parsed {
  flags: Record<string, string | boolean | string[] | undefined>;
  positional: string[];
}

export function parseArgs(argv: string[], spec: FlagSpec): Parsed {
  const flags: Parsed["flags"] = {};
  const positional: string[] = [];
  const byShort = new Map(Object.entries(spec).filter(([, s]) => s.short).map(([n, s]) => [s.short!, n]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let value: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
      if (eq > 0) value = arg.slice(eq + 1);
    } else if (/^-[a-zA-Z]$/.test(arg)) {
      name = byShort.get(arg.slice(1));
      if (!name) throw new UsageError(`unknown flag: ${arg}`);
    } else {
      positional.push(arg);
      continue;
    }
    const s = spec[name];
    if (!s) throw new UsageError(`unknown flag: --${name}`);
    if (s.type === "boolean") {
      if (value !== undefined && !["true", "false"].includes(value)) throw new UsageError(`--${name} takes no value`);
      flags[name] = value !== "false";
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
    }
    if (s.multiple) ((flags[name] ??= []) as string[]).push(value);
    else flags[name] = value;
  }
  return { flags, positional };
}

export const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
