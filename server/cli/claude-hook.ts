// nod claude-hook — a Claude Code PreToolUse hook: every tool call Claude
// wants to make becomes a permission request in the inbox ("Allow:
// Bash(npm install stripe)"); the person's Allow / Always Allow / Deny goes
// back to Claude Code as the hook's JSON decision. "Always allow" patterns are
// remembered in a local file, so the same kind of call is not asked again.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { parseArgs, UsageError } from "./args.ts";
import { AGENT_ENV_HELP, AgentApi, CliFailure, agentEnv, durationFlag, readStdinText, type DecisionState } from "./client.ts";
import { parseDuration } from "../lib/time.ts";

export const CLAUDE_HOOK_HELP = `Usage: nod claude-hook [--timeout 10m]

A Claude Code PreToolUse hook. Claude Code runs it before each tool call with
the call as JSON on standard input; nod asks a permission request in the
inbox, waits, and prints Claude Code's hook decision (allow or deny) as JSON.
Patterns a person "always allows" are remembered per agent, and matching
calls are allowed at once without asking.

In .claude/settings.json (the hook's own timeout is in seconds):
  {"hooks": {"PreToolUse": [{"matcher": "*", "hooks": [
    {"type": "command", "command": "nod claude-hook --timeout 10m", "timeout": 660}]}]}}

Flags:
  --timeout D   deny when nobody answers within D (default 10m)
  -h, --help    show this help

Anything that goes wrong (nod unreachable, a refused secret) denies the call
and says why; bad input exits 2, which Claude Code also treats as a block.

${AGENT_ENV_HELP}  NOD_HOOK_STATE where always-allowed patterns are kept
                 (default ~/.config/nod/always-allow.json)
`;

const DEFAULT_TIMEOUT_MS = 10 * 60_000;
const TITLE_MAX = 200;

export interface HookInput {
  hook_event_name?: string;
  session_id?: string;
  cwd?: string;
  tool_name: string;
  tool_input?: Record<string, unknown>;
}

/** A tool call as Claude Code's permission rules write it: Bash(npm install stripe). */
export interface ToolCall {
  tool: string;
  arg: string | null; // the part in parentheses; null for tools matched by name alone
}

const FILE_TOOLS = new Set(["Read", "Edit", "MultiEdit", "Write", "NotebookEdit", "NotebookRead"]);
const s = (v: unknown) => (typeof v === "string" ? v : undefined);

export function toolCall(input: HookInput): ToolCall {
  const t = input.tool_name;
  const i = input.tool_input ?? {};
  if (t === "Bash") return { tool: t, arg: (s(i.command) ?? "").trim() };
  if (FILE_TOOLS.has(t)) return { tool: t, arg: s(i.file_path) ?? s(i.notebook_path) ?? s(i.path) ?? null };
  if (t === "WebFetch") return { tool: t, arg: s(i.url) ?? null };
  if (t === "WebSearch") return { tool: t, arg: s(i.query) ?? null };
  if (t === "Glob" || t === "Grep") return { tool: t, arg: s(i.pattern) ?? null };
  return { tool: t, arg: null };
}

export const formatCall = (c: ToolCall) => (c.arg === null ? c.tool : `${c.tool}(${c.arg})`);

/** What a person may choose to always allow, broadest first (as in Nod's own example), the exact call last. */
export function alwaysAllowOptions(c: ToolCall): { pattern: string; label: string }[] {
  const exact = { pattern: formatCall(c), label: c.tool === "Bash" ? "This command" : "This call" };
  if (c.arg === null) return [{ pattern: c.tool, label: `Every ${c.tool} call` }];
  if (c.tool === "Bash") {
    const words = c.arg.split(/\s+/).filter(Boolean);
    if (hasShellOperators(c.arg) || words.length < 2) return [exact];
    const n = words.length >= 3 ? 2 : 1;
    const prefix = words.slice(0, n).join(" ");
    return [{ pattern: `Bash(${prefix} *)`, label: `All "${prefix}" commands` }, exact];
  }
  if (c.tool === "WebFetch") {
    try {
      const host = new URL(c.arg).hostname;
      return [{ pattern: `WebFetch(domain:${host})`, label: `Everything on ${host}` }, exact];
    } catch {
      return [exact];
    }
  }
  if (FILE_TOOLS.has(c.tool) && c.arg.includes("/")) {
    const dir = c.arg.slice(0, c.arg.lastIndexOf("/") + 1);
    return [{ pattern: `${c.tool}(${dir}*)`, label: `${c.tool} anything in ${dir}` }, exact];
  }
  return [exact];
}

// A prefix pattern must not let `git status && rm -rf ~` through.
const hasShellOperators = (cmd: string) => /[;&|`<>\n]|\$\(/.test(cmd);

/**
 * Does the glob (`*` matches any run of characters, newlines too) match the
 * whole text? Greedy with one backtrack point: linear in practice and never
 * worse than |glob| x |text|, unlike a regular expression with many `.*`.
 */
export function globMatches(glob: string, text: string): boolean {
  let g = 0, t = 0, star = -1, mark = 0;
  while (t < text.length) {
    if (g < glob.length && glob[g] === "*") {
      star = g++;
      mark = t;
    } else if (g < glob.length && glob[g] === text[t]) {
      g++;
      t++;
    } else if (star >= 0) {
      g = star + 1;
      t = ++mark;
    } else return false;
  }
  while (g < glob.length && glob[g] === "*") g++;
  return g === glob.length;
}

/** Does a remembered pattern (`Tool`, `Tool(exact)`, `Tool(prefix *)`, `WebFetch(domain:host)`) cover this call? */
export function patternMatches(pattern: string, c: ToolCall): boolean {
  const m = /^([^()]+?)(?:\((.*)\))?$/s.exec(pattern.trim());
  if (!m || m[1] !== c.tool) return false;
  const p = m[2];
  if (p === undefined || p === "*") return true; // the whole tool
  if (c.arg === null) return false;
  if (p === c.arg) return true; // the exact call
  if (c.tool === "WebFetch" && p.startsWith("domain:")) {
    try {
      return new URL(c.arg).hostname === p.slice("domain:".length);
    } catch {
      return false;
    }
  }
  if (!p.includes("*")) return false;
  if (c.tool === "Bash" && hasShellOperators(c.arg)) return false;
  return globMatches(p, c.arg);
}

// The remembered patterns: {"agents": {"agt_…": ["Bash(npm install *)", …]}}.
export function statePath(env = process.env): string {
  if (env.NOD_HOOK_STATE) return path.resolve(env.NOD_HOOK_STATE);
  const config = env.XDG_CONFIG_HOME || path.join(homedir(), ".config");
  return path.join(config, "nod", "always-allow.json");
}

interface State {
  agents: Record<string, string[]>;
}

function loadState(file: string): State {
  try {
    const data = JSON.parse(readFileSync(file, "utf8"));
    if (data && typeof data === "object" && data.agents && typeof data.agents === "object") return data as State;
  } catch {}
  return { agents: {} };
}

function remember(file: string, agentId: string, pattern: string) {
  const state = loadState(file); // re-read: another hook may have added one meanwhile
  const list = (state.agents[agentId] ??= []);
  if (list.includes(pattern)) return;
  list.push(pattern);
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + "\n", { mode: 0o600 });
  renameSync(tmp, file);
}

function output(decision: "allow" | "deny", reason: string) {
  process.stdout.write(
    JSON.stringify({ hookSpecificOutput: { hookEventName: "PreToolUse", permissionDecision: decision, permissionDecisionReason: reason } }) + "\n",
  );
  return 0;
}

const clip = (text: string, max: number) => (text.length > max ? text.slice(0, max - 1) + "…" : text);

export async function claudeHook(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs(argv, { timeout: { type: "string" }, help: { type: "boolean", short: "h" } });
  if (flags.help) return void process.stdout.write(CLAUDE_HOOK_HELP), 0;
  if (positional.length) throw new UsageError(`unexpected argument: ${positional[0]} (the hook input is read from standard input)`);
  const timeoutMs = durationFlag("timeout", flags.timeout, parseDuration) ?? DEFAULT_TIMEOUT_MS;
  const timeoutText = flags.timeout ?? "10m";
  const env = agentEnv();

  let input: HookInput;
  try {
    input = JSON.parse(await readStdinText());
  } catch {
    throw new UsageError("standard input is not JSON (Claude Code's PreToolUse hook input)");
  }
  if (!input || typeof input !== "object" || typeof input.tool_name !== "string" || !input.tool_name)
    throw new UsageError("standard input has no tool_name (Claude Code's PreToolUse hook input)");
  // Installed on another event by mistake: no opinion.
  if (input.hook_event_name && input.hook_event_name !== "PreToolUse") return 0;

  const call = toolCall(input);
  const file = statePath();
  const remembered = loadState(file).agents[env.agentId] ?? [];
  const hit = remembered.find((p) => patternMatches(p, call));
  if (hit) return output("allow", `Always allowed in nod (${hit})`);

  const api = new AgentApi(env);
  const full = formatCall(call);
  const details =
    call.tool === "Bash" || call.arg !== null
      ? "```\n" + (call.arg ?? "") + "\n```"
      : "```json\n" + clip(JSON.stringify(input.tool_input ?? {}, null, 2), 15_000) + "\n```";
  const where = [input.cwd ? `in ${input.cwd}` : "", input.session_id ? `session ${input.session_id}` : ""].filter(Boolean).join(", ");
  const description = `Claude Code wants to use ${call.tool}${where ? ` (${where})` : ""}:\n\n${details}`;
  let d: DecisionState | null;
  try {
    const created = await api.event<{ decision_id: string }>({
      type: "decision",
      kind: "permission",
      title: clip(`Allow: ${full}`, TITLE_MAX),
      description: clip(description, 19_000),
      allows_always: true,
      always_allow_options: alwaysAllowOptions(call).map((o) => ({ pattern: clip(o.pattern, 500), label: clip(o.label, 500) })),
    });
    d = await api.waitForDecision(created.decision_id, timeoutMs);
  } catch (e) {
    if (!(e instanceof CliFailure)) throw e;
    process.stderr.write(`nod claude-hook: ${e.message}\n`);
    return output("deny", `nod could not ask for permission: ${e.message}`);
  }
  if (!d) return output("deny", `No answer in nod within ${timeoutText}`);
  const note = d.note ? `: ${d.note}` : "";
  if (d.status === "approved") {
    if (d.always_allow && d.always_allow_pattern) {
      try {
        remember(file, env.agentId, d.always_allow_pattern);
      } catch (e) {
        process.stderr.write(`nod claude-hook: could not save the always-allow pattern in ${file}: ${(e as Error).message}\n`);
      }
      return output("allow", `Always allowed in nod (${d.always_allow_pattern})${note}`);
    }
    return output("allow", `Allowed in nod${note}`);
  }
  if (d.status === "rejected") return output("deny", `Denied in nod${note}`);
  return output("deny", `The request was dismissed in nod${note}`);
}
