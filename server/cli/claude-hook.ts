// nod claude-hook — a Claude Code hook (PreToolUse or PermissionRequest):
// every tool call Claude wants to make becomes a permission request in the
// inbox ("Allow: Bash(npm install stripe)"); the person's Allow / Always
// Allow / Deny goes back to Claude Code as the hook's JSON decision. Claude's
// AskUserQuestion becomes a choice request, and the answers go back as the
// tool's input. The always-allow logic is shared with `nod mcp`
// (permissions.ts).
//
// It fails closed: whatever goes wrong after the input is read (nod
// unreachable, a refused secret, a bug) prints a denial that says why, exit 0.
// Its own --timeout, and a SIGTERM (Claude Code giving up on it), withdraw
// the request first, so nobody answers a question no one is waiting for.
import { parseArgs, UsageError } from "./args.ts";
import { AGENT_ENV_HELP, AgentApi, agentEnv, durationFlag, readStdinText } from "./client.ts";
import { AlwaysAllowStore, askPermission, askQuestions, claudeRule, toolCall, type PermissionOutcome } from "./permissions.ts";
import { parseDuration } from "../lib/time.ts";

export { alwaysAllowOptions, formatCall, globMatches, patternMatches, toolCall, type ToolCall } from "./permissions.ts";

export const CLAUDE_HOOK_HELP = `Usage: nod claude-hook [--timeout 10m]

A Claude Code hook for PreToolUse or PermissionRequest. Claude Code runs it
with the tool call as JSON on standard input; nod asks a permission request
in the inbox, waits, and prints Claude Code's hook decision (allow or deny)
as JSON. Patterns a person "always allows" are remembered per agent, and
matching calls are allowed at once without asking. AskUserQuestion becomes a
choice request; the answer goes back to Claude as the tool's input.

In .claude/settings.json (the hook's own timeout is in seconds):
  {"hooks": {"PreToolUse": [{"matcher": "Bash|Edit|Write|WebFetch|AskUserQuestion", "hooks": [
    {"type": "command", "command": "nod claude-hook --timeout 10m", "timeout": 660,
     "onFailure": "block"}]}]}}

Flags:
  --timeout D   deny (and withdraw the request) when nobody answers within D (default 10m)
  -h, --help    show this help

Anything that goes wrong (nod unreachable, a refused secret) denies the call
and says why; bad input exits 2, which Claude Code also treats as a block. A
SIGTERM withdraws the request and denies.

${AGENT_ENV_HELP}  NOD_HOOK_STATE where always-allowed patterns are kept
                 (default ~/.config/nod/always-allow.json)
`;

const DEFAULT_TIMEOUT_MS = 10 * 60_000;
const EVENTS = ["PreToolUse", "PermissionRequest"] as const;
type HookEvent = (typeof EVENTS)[number];

export interface HookInput {
  hook_event_name?: string;
  session_id?: string;
  cwd?: string;
  tool_name: string;
  tool_input?: Record<string, unknown>;
}

/** Prints Claude Code's decision for the event, once (a SIGTERM may race the answer). */
class HookOutput {
  private printed = false;
  constructor(readonly event: HookEvent) {}

  allow(reason: string, extra: { updatedInput?: Record<string, unknown>; pattern?: string } = {}) {
    if (this.event === "PreToolUse") {
      return this.print({ permissionDecision: "allow", permissionDecisionReason: reason, ...(extra.updatedInput ? { updatedInput: extra.updatedInput } : {}) });
    }
    // "Always allow" becomes a rule Claude Code keeps (in .claude/settings.local.json), so it stops asking.
    const rule = extra.pattern ? claudeRule(extra.pattern) : null;
    const updatedPermissions = rule ? [{ type: "addRules", rules: [rule], behavior: "allow", destination: "localSettings" }] : undefined;
    return this.print({ decision: { behavior: "allow", ...(extra.updatedInput ? { updatedInput: extra.updatedInput } : {}), ...(updatedPermissions ? { updatedPermissions } : {}) } });
  }

  deny(reason: string) {
    if (this.event === "PreToolUse") return this.print({ permissionDecision: "deny", permissionDecisionReason: reason });
    return this.print({ decision: { behavior: "deny", message: reason } });
  }

  outcome(o: PermissionOutcome) {
    return o.behavior === "allow" ? this.allow(o.reason, { pattern: o.pattern }) : this.deny(o.reason);
  }

  private print(specific: Record<string, unknown>) {
    if (!this.printed) {
      this.printed = true;
      process.stdout.write(JSON.stringify({ hookSpecificOutput: { hookEventName: this.event, ...specific } }) + "\n");
    }
    return 0;
  }
}

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
    throw new UsageError("standard input is not JSON (Claude Code's hook input)");
  }
  if (!input || typeof input !== "object" || typeof input.tool_name !== "string" || !input.tool_name)
    throw new UsageError("standard input has no tool_name (Claude Code's hook input)");
  const event = (input.hook_event_name ?? "PreToolUse") as HookEvent;
  if (!EVENTS.includes(event)) return 0; // installed on another event by mistake: no opinion
  const out = new HookOutput(event);

  // Claude Code gives up on the hook (its own timeout) with SIGTERM: withdraw, deny, go.
  const stop = new AbortController();
  const onTerm = () => {
    stop.abort();
    setTimeout(() => process.exit(out.deny("nod claude-hook was stopped before anyone answered")), 8_000).unref();
  };
  process.once("SIGTERM", onTerm);
  process.once("SIGINT", onTerm);
  try {
    const api = new AgentApi(env);
    const opts = {
      timeoutMs,
      timeoutText,
      where: { cwd: input.cwd, session_id: input.session_id },
      signal: stop.signal,
      warn: (m: string) => process.stderr.write(`nod claude-hook: ${m}\n`),
    };
    if (input.tool_name === "AskUserQuestion") return await askUserQuestion(api, input, out, opts);
    const outcome = await askPermission(api, new AlwaysAllowStore(env.agentId), toolCall(input), input.tool_input, opts);
    if (stop.signal.aborted && outcome.behavior === "deny") return out.deny("nod claude-hook was stopped before anyone answered; the request was withdrawn");
    return out.outcome(outcome);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`nod claude-hook: ${message}\n`);
    return out.deny(`nod could not ask for permission: ${message}`);
  } finally {
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onTerm);
  }
}

/** Claude's AskUserQuestion: the questions are asked in nod, the answers go back as the tool's input. */
async function askUserQuestion(api: AgentApi, input: HookInput, out: HookOutput, opts: { timeoutMs: number; timeoutText: string; signal: AbortSignal }) {
  const r = await askQuestions(api, input.tool_input, opts);
  return r.behavior === "allow" ? out.allow("Answered in nod", { updatedInput: r.updatedInput }) : out.deny(r.reason);
}
