// Claude Code's tool calls as permission requests in the inbox, shared by
// `nod claude-hook` (a hook) and `nod mcp` (request_permission, Claude Code's
// --permission-prompt-tool): the call in Claude Code's rule syntax
// (`Bash(npm install stripe)`), the always-allow patterns a person may pick,
// and the local file where the picked patterns are remembered per agent, so
// the same kind of call is allowed at once next time, by either of the two.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { AgentApi, type DecisionState } from "./client.ts";

/** A tool call as Claude Code's permission rules write it: Bash(npm install stripe). */
export interface ToolCall {
  tool: string;
  arg: string | null; // the part in parentheses; null for tools matched by name alone
}

const FILE_TOOLS = new Set(["Read", "Edit", "MultiEdit", "Write", "NotebookEdit", "NotebookRead"]);
const s = (v: unknown) => (typeof v === "string" ? v : undefined);

export function toolCall(input: { tool_name: string; tool_input?: Record<string, unknown> }): ToolCall {
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

const PATTERN = /^([^()]+?)(?:\((.*)\))?$/s;

/** Does a remembered pattern (`Tool`, `Tool(exact)`, `Tool(prefix *)`, `WebFetch(domain:host)`) cover this call? */
export function patternMatches(pattern: string, c: ToolCall): boolean {
  const m = PATTERN.exec(pattern.trim());
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

/**
 * The pattern as a Claude Code permission rule ({toolName, ruleContent}), for
 * a PermissionRequest hook's updatedPermissions. File paths are absolute, which
 * Claude Code writes with a leading `//`, and a directory covers what is under it.
 */
export function claudeRule(pattern: string): { toolName: string; ruleContent?: string } | null {
  const m = PATTERN.exec(pattern.trim());
  if (!m) return null;
  const [, toolName, content] = m as unknown as [string, string, string | undefined];
  if (content === undefined) return { toolName };
  if (FILE_TOOLS.has(toolName) && content.startsWith("/")) {
    return { toolName, ruleContent: "/" + (content.endsWith("/*") ? content + "*" : content) };
  }
  return { toolName, ruleContent: content };
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

/** The always-allow patterns of one agent, in a file shared by every nod process on this machine. */
export class AlwaysAllowStore {
  constructor(
    readonly agentId: string,
    readonly file = statePath(),
  ) {}

  /** The remembered pattern that covers this call, if any. */
  find(call: ToolCall): string | undefined {
    const list = loadState(this.file).agents[this.agentId];
    return Array.isArray(list) ? list.find((p) => typeof p === "string" && patternMatches(p, call)) : undefined;
  }

  remember(pattern: string) {
    const state = loadState(this.file); // re-read: another hook may have added one meanwhile
    const list = (state.agents[this.agentId] ??= []);
    if (list.includes(pattern)) return;
    list.push(pattern);
    mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(state, null, 2) + "\n", { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}

const TITLE_MAX = 200;
export const clip = (text: string, max: number) => (text.length > max ? text.slice(0, max - 1) + "…" : text);

/** The permission request (a `decision` event) for a call Claude Code wants to make. */
export function permissionEvent(call: ToolCall, toolInput: unknown, where: { cwd?: string; session_id?: string } = {}) {
  const details =
    call.tool === "Bash" || call.arg !== null
      ? "```\n" + (call.arg ?? "") + "\n```"
      : "```json\n" + clip(JSON.stringify(toolInput ?? {}, null, 2), 15_000) + "\n```";
  const place = [where.cwd ? `in ${where.cwd}` : "", where.session_id ? `session ${where.session_id}` : ""].filter(Boolean).join(", ");
  return {
    type: "decision",
    kind: "permission",
    title: clip(`Allow: ${formatCall(call)}`, TITLE_MAX),
    description: clip(`Claude Code wants to use ${call.tool}${place ? ` (${place})` : ""}:\n\n${details}`, 19_000),
    allows_always: true,
    always_allow_options: alwaysAllowOptions(call).map((o) => ({ pattern: clip(o.pattern, 500), label: clip(o.label, 500) })),
  };
}

export interface PermissionOutcome {
  behavior: "allow" | "deny";
  /** Why, in words for Claude (and the person reading its transcript). */
  reason: string;
  /** The always-allow pattern that allowed it (remembered, or chosen just now), to pass on to Claude Code as a rule. */
  pattern?: string;
}

export interface AskPermissionOptions {
  timeoutMs: number;
  timeoutText: string;
  where?: { cwd?: string; session_id?: string };
  /** Aborting withdraws the request (the caller is going away). */
  signal?: AbortSignal;
  /** Called with the request's id once it exists. */
  onCreated?: (decisionId: string) => void;
  /** For warnings (stderr); never stdout, which belongs to the protocol. */
  warn?: (message: string) => void;
}

/**
 * Asks a person whether Claude Code may make this call: allowed at once when
 * a remembered pattern covers it, else a permission request that is withdrawn
 * when nobody answers within the time. Network failures are thrown
 * (CliFailure); the caller turns them into a denial.
 */
export async function askPermission(api: AgentApi, store: AlwaysAllowStore, call: ToolCall, toolInput: unknown, opts: AskPermissionOptions): Promise<PermissionOutcome> {
  const hit = store.find(call);
  if (hit) return { behavior: "allow", reason: `Always allowed in nod (${hit})`, pattern: hit };
  const d = await api.askAndWait(permissionEvent(call, toolInput, opts.where), opts.timeoutMs, opts);
  return permissionOutcome(d, store, opts);
}

function permissionOutcome(d: DecisionState | null, store: AlwaysAllowStore, opts: AskPermissionOptions): PermissionOutcome {
  if (!d || d.status === "expired" || d.status === "cancelled") return { behavior: "deny", reason: `No answer in nod within ${opts.timeoutText}` };
  const note = d.note ? `: ${d.note}` : "";
  if (d.status === "approved") {
    if (d.always_allow && d.always_allow_pattern) {
      try {
        store.remember(d.always_allow_pattern);
      } catch (e) {
        opts.warn?.(`could not save the always-allow pattern in ${store.file}: ${(e as Error).message}`);
      }
      return { behavior: "allow", reason: `Always allowed in nod (${d.always_allow_pattern})${note}`, pattern: d.always_allow_pattern };
    }
    return { behavior: "allow", reason: `Allowed in nod${note}` };
  }
  if (d.status === "rejected") return { behavior: "deny", reason: `Denied in nod${note}` };
  return { behavior: "deny", reason: `The request was dismissed in nod${note}` };
}

interface Question {
  question: string;
  header?: string;
  options?: { label: string; description?: string }[];
  multiSelect?: boolean;
}

/**
 * Claude's AskUserQuestion: one choice request per question, in turn (people
 * may type their own answer); the answers go back as the tool's input
 * (`answers`: question → answer), which Claude reads as the user's.
 */
export async function askQuestions(
  api: AgentApi,
  toolInput: Record<string, unknown> | undefined,
  opts: { timeoutMs: number; timeoutText: string; signal?: AbortSignal },
): Promise<{ behavior: "allow"; updatedInput: Record<string, unknown> } | { behavior: "deny"; reason: string }> {
  const raw = toolInput?.questions;
  const questions = (Array.isArray(raw) ? raw : []).filter((q): q is Question => !!q && typeof q === "object" && typeof q.question === "string");
  if (!questions.length) return { behavior: "deny", reason: "AskUserQuestion without questions" };
  const answers: Record<string, string> = {};
  for (const q of questions) {
    const options = (Array.isArray(q.options) ? q.options : []).filter((o) => o && typeof o.label === "string");
    const lines = [
      q.header ? `**${q.header}**` : "",
      ...options.filter((o) => o.description).map((o) => `- ${o.label}: ${o.description}`),
      q.multiSelect ? "Several may be chosen: type them in Other, separated by commas." : "",
    ].filter(Boolean);
    const d = await api.askAndWait(
      {
        type: "decision",
        kind: "choice",
        title: clip(q.question, TITLE_MAX),
        description: clip(lines.join("\n\n"), 19_000),
        options: options.slice(0, 50).map((o) => clip(o.label, 500)),
      },
      opts.timeoutMs,
      { signal: opts.signal },
    );
    if (!d || d.status === "expired" || d.status === "cancelled") return { behavior: "deny", reason: `No answer in nod within ${opts.timeoutText}` };
    if (d.status !== "responded" || !d.note) return { behavior: "deny", reason: `The question was dismissed in nod: ${q.question}` };
    answers[q.question] = d.note;
  }
  return { behavior: "allow", updatedInput: { ...toolInput, answers } };
}
