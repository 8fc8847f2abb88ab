// The "Thinking…" indicator per agent and conversation. It lives in memory
// only: it is a live signal, meaningless after a restart. Each start (REST
// processing_start, WS agent_heartbeat) arms an expiry timer — 30 s and 10 s —
// and the indicator turns itself off when the timer runs out. Its frames have
// no write behind them: they go out through Writer.announce.
import type { InboxFrame } from "../db/unit-of-work.ts";

export const REST_PROCESSING_TTL_MS = 30_000;
export const HEARTBEAT_TTL_MS = 10_000;

interface Indicator {
  statusText: string;
  timer: ReturnType<typeof setTimeout>;
}

export class ProcessingIndicators {
  private active = new Map<string, Indicator>();
  /** Indicators other instances announced (several instances on PostgreSQL): for the snapshot a new inbox gets. */
  private elsewhere = new Map<string, Indicator>();

  constructor(private announce: (frame: InboxFrame) => void) {}

  private key = (agentId: string, conversationId: string | null) => `${agentId}\u0000${conversationId ?? ""}`;

  start(agentId: string, conversationId: string | null, statusText: string, ttlMs: number) {
    const key = this.key(agentId, conversationId);
    const prev = this.active.get(key);
    if (prev) clearTimeout(prev.timer);
    const timer = setTimeout(() => this.stop(agentId, conversationId), ttlMs);
    timer.unref?.();
    this.active.set(key, { statusText, timer });
    // A heartbeat every second with the same text changes nothing a person sees.
    if (!prev || prev.statusText !== statusText)
      this.announce({ type: "processing", agent_id: agentId, conversation_id: conversationId, active: true, status_text: statusText });
  }

  /** Replaces the text of a running indicator (an alert logged while thinking). */
  updateText(agentId: string, statusText: string) {
    for (const [key, ind] of this.active) {
      if (!key.startsWith(agentId + "\u0000")) continue;
      ind.statusText = statusText;
      const conversationId = key.slice(agentId.length + 1) || null;
      this.announce({ type: "processing", agent_id: agentId, conversation_id: conversationId, active: true, status_text: statusText });
    }
  }

  stop(agentId: string, conversationId: string | null) {
    const key = this.key(agentId, conversationId);
    const ind = this.active.get(key);
    if (!ind) return;
    clearTimeout(ind.timer);
    this.active.delete(key);
    this.announce({ type: "processing", agent_id: agentId, conversation_id: conversationId, active: false, status_text: null });
  }

  /** Turns off every indicator of the agent (its last socket closed). */
  stopAgent(agentId: string) {
    for (const key of [...this.active.keys()]) {
      if (key.startsWith(agentId + "\u0000")) this.stop(agentId, key.slice(agentId.length + 1) || null);
    }
  }

  /**
   * A frame another instance announced: its "processing" frames are kept for
   * the snapshot (until turned off, the agent goes offline, or at most the
   * longest time an indicator lives without being renewed).
   */
  heard(frame: InboxFrame) {
    if (frame.type === "agent_status" && frame.online === false) {
      for (const key of [...this.elsewhere.keys()]) if (key.startsWith(frame.agent_id + "\u0000")) this.forgetElsewhere(key);
      return;
    }
    if (frame.type !== "processing" || typeof frame.agent_id !== "string") return;
    const key = this.key(frame.agent_id, (frame.conversation_id as string | null) ?? null);
    this.forgetElsewhere(key);
    if (!frame.active) return;
    const timer = setTimeout(() => this.elsewhere.delete(key), REST_PROCESSING_TTL_MS);
    timer.unref?.();
    this.elsewhere.set(key, { statusText: String(frame.status_text ?? ""), timer });
  }

  private forgetElsewhere(key: string) {
    const ind = this.elsewhere.get(key);
    if (ind) clearTimeout(ind.timer);
    this.elsewhere.delete(key);
  }

  /** Everything currently on, for an inbox that just connected. */
  snapshot() {
    return [...new Map([...this.elsewhere, ...this.active])].map(([key, ind]) => {
      const [agentId, conv] = key.split("\u0000");
      return { agent_id: agentId!, conversation_id: conv || null, status_text: ind.statusText };
    });
  }

  stopAll() {
    for (const ind of [...this.active.values(), ...this.elsewhere.values()]) clearTimeout(ind.timer);
    this.active.clear();
    this.elsewhere.clear();
  }
}
