// The agent side of the command line: a small REST client configured like
// Nod's own clients, by NOD_API_URL, NOD_AGENT_ID and NOD_SECRET.
import { UsageError } from "./args.ts";

/** A failure the command reports: exit code 1 (or `code`). */
export class CliFailure extends Error {
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
  }
}

export const AGENT_ENV_HELP = `Environment:
  NOD_API_URL    the nod server, e.g. https://nod.example.com (default http://localhost:8000)
  NOD_AGENT_ID   the agent's id (agt_…)
  NOD_SECRET     the agent's secret (nod_…)
`;

export interface AgentEnv {
  url: string;
  agentId: string;
  secret: string;
}

export function agentEnv(env: Record<string, string | undefined> = process.env): AgentEnv {
  const agentId = env.NOD_AGENT_ID?.trim();
  const secret = env.NOD_SECRET?.trim();
  if (!agentId) throw new UsageError("NOD_AGENT_ID is not set (the agent's id, agt_…)");
  if (!secret) throw new UsageError("NOD_SECRET is not set (the agent's secret, nod_…)");
  const url = (env.NOD_API_URL?.trim() || "http://localhost:8000").replace(/\/+$/, "");
  if (!/^https?:\/\/[^/]+/.test(url)) throw new UsageError(`NOD_API_URL is not an http(s) URL: ${url}`);
  return { url, agentId, secret };
}

export class AgentApi {
  constructor(readonly env: AgentEnv) {}

  /** One JSON request; an error status becomes a CliFailure carrying the server's detail. */
  async call<T = any>(method: string, path: string, body?: unknown, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<T> {
    let res: Response;
    const signals = [AbortSignal.timeout(opts.timeoutMs ?? 30_000), ...(opts.signal ? [opts.signal] : [])];
    try {
      res = await fetch(this.env.url + path, {
        method,
        headers: {
          "x-nod-agent-id": this.env.agentId,
          "x-nod-secret": this.env.secret,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.any(signals),
      });
    } catch (e) {
      const err = e as Error;
      const why = err.name === "TimeoutError" ? "timed out" : err.message;
      throw new CliFailure(`cannot reach ${this.env.url}: ${why}`);
    }
    const text = await res.text();
    let data: any = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {}
    if (!res.ok) {
      const detail = data && typeof data.detail === "string" ? data.detail : text.slice(0, 200) || res.statusText;
      const hint = res.status === 401 ? " (check NOD_AGENT_ID and NOD_SECRET)" : "";
      throw new CliFailure(`${method} ${path}: ${res.status} ${detail}${hint}`);
    }
    return data as T;
  }

  event<T = any>(body: Record<string, unknown>) {
    return this.call<T>("POST", "/api/agent/events", body);
  }

  /**
   * Waits for the decision to be resolved, by long-polling
   * GET /api/agent/decisions/:id?wait=. Returns null when timeoutMs passes
   * first, or the signal aborts. Network errors are retried (the server may
   * be restarting) until the deadline.
   */
  async waitForDecision(id: string, timeoutMs: number | null, signal?: AbortSignal): Promise<DecisionState | null> {
    const deadline = timeoutMs === null ? Infinity : Date.now() + timeoutMs;
    let failures = 0;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted) return null;
      const wait = Math.max(1, Math.min(55, Math.ceil(left / 1000)));
      try {
        const d = await this.call<DecisionState>("GET", `/api/agent/decisions/${encodeURIComponent(id)}?wait=${wait}`, undefined, {
          timeoutMs: Math.min((wait + 20) * 1000, left + 1000),
          signal,
        });
        failures = 0;
        if (d.status !== "pending") return d;
      } catch (e) {
        if (signal?.aborted) return null;
        // A refusal (401, 404) will not get better; a lost connection may.
        if (!(e instanceof CliFailure) || !e.message.startsWith("cannot reach")) throw e;
        if (Date.now() >= deadline) return null;
        if (++failures > 1000) throw e;
        await Bun.sleep(Math.min(5000, 250 * failures, Math.max(0, deadline - Date.now())));
      }
    }
  }

  /**
   * Asks (a `decision` event) and waits up to timeoutMs for the answer. When
   * the time is up or the signal aborts, the request is withdrawn, and null is
   * returned — unless a person answered in that same instant: then the answer.
   * With a time limit the request also expires a little after it on the
   * server, in case this process dies without withdrawing it.
   */
  async askAndWait(
    body: Record<string, unknown>,
    timeoutMs: number | null,
    opts: { signal?: AbortSignal; onCreated?: (decisionId: string) => void } = {},
  ): Promise<DecisionState | null> {
    const expiresIn = timeoutMs === null ? 0 : Math.ceil(timeoutMs / 1000) + EXPIRY_MARGIN_S;
    const created = await this.event<{ decision_id: string }>({ ...body, ...(expiresIn && expiresIn <= MAX_EXPIRES_IN ? { expires_in: expiresIn } : {}) });
    const id = created.decision_id;
    opts.onCreated?.(id);
    const d = await this.waitForDecision(id, timeoutMs, opts.signal);
    return d ?? (await this.withdraw(id));
  }

  /** Withdraws a pending request; null once withdrawn, or the state it reached first (answered, expired). */
  async withdraw(id: string): Promise<DecisionState | null> {
    const path = `/api/agent/decisions/${encodeURIComponent(id)}`;
    try {
      await this.call("POST", `${path}/cancel`, undefined, { timeoutMs: 10_000 });
      return null;
    } catch (e) {
      if (!(e instanceof CliFailure) || !/: 409 /.test(e.message)) return null; // nod unreachable: the request expires on its own
      const now = await this.call<DecisionState>("GET", path, undefined, { timeoutMs: 10_000 }).catch(() => null);
      return now && now.status !== "pending" ? now : null;
    }
  }
}

/** A request asked with a time limit expires this long after it on the server (a backstop: the asker withdraws it first). */
const EXPIRY_MARGIN_S = 30;
const MAX_EXPIRES_IN = 604_800;

export interface DecisionState {
  decision_id: string;
  kind: string;
  status: "pending" | "approved" | "rejected" | "responded" | "dismissed" | "expired" | "cancelled";
  note: string | null;
  title: string;
  always_allow: boolean;
  always_allow_pattern: string | null;
}

/** Standard input as text, to its end. */
export async function readStdinText(): Promise<string> {
  return await new Response(Bun.stdin.stream()).text();
}

/** `--timeout 10m` → ms; null when absent. */
export function durationFlag(flag: string, text: string | undefined, parse: (t: string) => number | null): number | null {
  if (text === undefined) return null;
  const ms = parse(text);
  if (ms === null || ms <= 0) throw new UsageError(`--${flag}: not a duration like 30s, 10m or 1h: ${text}`);
  return ms;
}
