// The MCP server behind `nod mcp` (the official TypeScript SDK, v1, stdio).
// Every tool is a call to the agent API through the same REST client as the
// other agent commands; the results are JSON in a text content block.
// Standard output belongs to the protocol: nothing else may write there.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { VERSION } from "../version.ts";
import { AgentApi, type AgentEnv, type DecisionState } from "./client.ts";
import { AlwaysAllowStore, askPermission, askQuestions, toolCall } from "./permissions.ts";

/** How long ask and check_answer wait by default: under the 60 s tool timeout common MCP clients use. */
export const DEFAULT_WAIT_S = 50;
const MAX_WAIT_S = 3600;
/** While a tool waits, progress is reported this often (clients that reset their timeout on progress keep waiting). */
const PROGRESS_EVERY_MS = 15_000;

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

const log = (message: string) => process.stderr.write(`nod mcp: ${message}\n`);
const json = (value: unknown) => ({ content: [{ type: "text" as const, text: JSON.stringify(value) }] });
const failure = (e: unknown) => ({ content: [{ type: "text" as const, text: e instanceof Error ? e.message : String(e) }], isError: true });

/** What ask and check_answer return. */
const answer = (d: Pick<DecisionState, "decision_id" | "status" | "note">) => ({
  status: d.status,
  ...(d.note !== null && d.note !== undefined ? { note: d.note } : {}),
  decision_id: d.decision_id,
});

/** Reports progress while a long wait runs, if the client asked for it (a progressToken). */
function progress(extra: Extra) {
  const token = extra._meta?.progressToken;
  if (token === undefined) return () => {};
  let n = 0;
  const timer = setInterval(() => {
    extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress: ++n, message: "waiting for an answer in nod" } }).catch(() => {});
  }, PROGRESS_EVERY_MS);
  return () => clearInterval(timer);
}

export function buildMcpServer(api: AgentApi, opts: { permissionTimeoutMs: number; permissionTimeout: string }) {
  const server = new McpServer({ name: "nod", version: VERSION }, { instructions: "Ask the people behind nod for permission, approvals, choices and answers; tell them what you did." });
  const store = new AlwaysAllowStore(api.env.agentId);
  const inFlight = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>) => {
    inFlight.add(p);
    p.finally(() => inFlight.delete(p)).catch(() => {});
    return p;
  };

  server.registerTool(
    "request_permission",
    {
      description:
        "Asks a person in nod whether a tool call may run (Claude Code's --permission-prompt-tool). " +
        'Returns JSON {"behavior":"allow","updatedInput":{…}} or {"behavior":"deny","message":"…"}.',
      inputSchema: {
        tool_name: z.string().min(1).describe("the tool Claude wants to use, e.g. Bash"),
        input: z.record(z.string(), z.unknown()).describe("the tool's input"),
        tool_use_id: z.string().optional(),
      },
    },
    (args, extra) =>
      track(
        (async () => {
          const done = progress(extra);
          try {
            // Claude's questions to the user (offered only with a permission prompt tool) are asked in nod too.
            if (args.tool_name === "AskUserQuestion") {
              const q = await askQuestions(api, args.input, { timeoutMs: opts.permissionTimeoutMs, timeoutText: opts.permissionTimeout, signal: extra.signal });
              return json(q.behavior === "allow" ? { behavior: "allow", updatedInput: q.updatedInput } : { behavior: "deny", message: q.reason });
            }
            const o = await askPermission(api, store, toolCall({ tool_name: args.tool_name, tool_input: args.input }), args.input, {
              timeoutMs: opts.permissionTimeoutMs,
              timeoutText: opts.permissionTimeout,
              signal: extra.signal,
              warn: log,
            });
            return json(o.behavior === "allow" ? { behavior: "allow", updatedInput: args.input } : { behavior: "deny", message: o.reason });
          } catch (e) {
            // Fails closed: a call nobody could allow is denied, with the reason.
            log((e as Error).message);
            return json({ behavior: "deny", message: `nod could not ask for permission: ${(e as Error).message}` });
          } finally {
            done();
          }
        })(),
      ),
  );

  server.registerTool(
    "ask",
    {
      description:
        "Asks the people in nod: an approval (yes/no), a choice among options (they may also type their own), or a free-text question. " +
        `Waits up to timeout_seconds (default ${DEFAULT_WAIT_S}) for the answer; returns JSON {"status","note"?,"decision_id"}. ` +
        'Status approved/rejected (approval), responded (note holds the answer), dismissed, or "pending": then call check_answer with the decision_id.',
      inputSchema: {
        title: z.string().min(1).max(500),
        description: z.string().max(20_000).optional(),
        options: z.array(z.string().max(500)).max(50).optional(),
        kind: z.enum(["approval", "choice", "question"]).optional().describe("default: choice when options are given, else approval"),
        timeout_seconds: z.number().int().min(0).max(MAX_WAIT_S).optional(),
      },
    },
    (args, extra) =>
      track(
        (async () => {
          const done = progress(extra);
          let id: string | null = null;
          try {
            const kind = args.kind ?? (args.options?.length ? "choice" : "approval");
            const created = await api.event<{ decision_id: string }>({
              type: "decision",
              kind,
              title: args.title,
              description: args.description ?? "",
              ...(args.options?.length ? { options: args.options } : {}),
            });
            id = created.decision_id;
            const d = await api.waitForDecision(id, (args.timeout_seconds ?? DEFAULT_WAIT_S) * 1000, extra.signal);
            // The client cancelled the call: it never learns the id, so nobody would read the answer.
            if (extra.signal.aborted && !d) await api.withdraw(id);
            return json(d ? answer(d) : { status: "pending", decision_id: id });
          } catch (e) {
            return failure(e);
          } finally {
            done();
          }
        })(),
      ),
  );

  server.registerTool(
    "check_answer",
    {
      description: `The answer to an earlier ask: waits up to wait_seconds (default ${DEFAULT_WAIT_S}) while it is pending. Returns the same JSON as ask.`,
      inputSchema: {
        decision_id: z.string().min(1).max(100),
        wait_seconds: z.number().int().min(0).max(MAX_WAIT_S).optional(),
      },
    },
    (args, extra) =>
      track(
        (async () => {
          const done = progress(extra);
          try {
            const path = `/api/agent/decisions/${encodeURIComponent(args.decision_id)}`;
            const wait = args.wait_seconds ?? DEFAULT_WAIT_S;
            const d = wait > 0 ? await api.waitForDecision(args.decision_id, wait * 1000, extra.signal) : null;
            return json(answer(d ?? (await api.call<DecisionState>("GET", path))));
          } catch (e) {
            return failure(e);
          } finally {
            done();
          }
        })(),
      ),
  );

  server.registerTool(
    "send_message",
    {
      description: 'Sends a chat message (markdown) to the people in nod. Returns JSON {"message_id","conversation_id"}.',
      inputSchema: { text: z.string().min(1).max(100_000), conversation_id: z.string().max(100).optional() },
    },
    async (args) => {
      try {
        const r = await api.event<{ message_id: string; conversation_id: string }>({
          type: "message",
          text: args.text,
          ...(args.conversation_id ? { conversation_id: args.conversation_id } : {}),
        });
        return json({ message_id: r.message_id, conversation_id: r.conversation_id });
      } catch (e) {
        return failure(e);
      }
    },
  );

  server.registerTool(
    "log_activity",
    {
      description: 'Records what you did in nod\'s activity feed (no reply expected). Returns JSON {"activity_id"}.',
      inputSchema: { title: z.string().min(1).max(500), text: z.string().max(20_000).optional() },
    },
    async (args) => {
      try {
        const r = await api.event<{ activity_id: string }>({ type: "alert", title: args.title, ...(args.text ? { text: args.text } : {}) });
        return json({ activity_id: r.activity_id });
      } catch (e) {
        return failure(e);
      }
    },
  );

  return { server, inFlight };
}

/** Serves on stdin/stdout until the client closes stdin (or SIGTERM); pending requests are withdrawn first. */
export async function serveMcp(env: AgentEnv, opts: { permissionTimeoutMs: number; permissionTimeout: string }) {
  const { server, inFlight } = buildMcpServer(new AgentApi(env), opts);
  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    await server.close().catch(() => {}); // aborts the tools in flight: they withdraw their requests
    await Promise.race([Promise.allSettled([...inFlight]), Bun.sleep(10_000)]);
    process.exit(0);
  };
  process.stdin.on("end", shutdown);
  process.stdin.on("close", shutdown);
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
  await server.connect(new StdioServerTransport());
  log(`serving agent ${env.agentId} of ${env.url}`);
}
