// The app-wide state (who is signed in, the agents with their counts, who is
// online, Thinking… indicators) and a tiny frame bus for live updates.
import { useLayoutEffect, useReducer, useRef } from "preact/hooks";
import { get } from "./api.js";

export const state = {
  status: "loading", // loading | setup | signin | ready
  user: null,
  agents: [], // from GET /api/agents, with online / pending_requests / unread_messages
  agentsLoaded: false,
  processing: {}, // "agentId|conversationId" -> status_text
  live: "connecting", // connecting | open | closed
  viewing: null, // conversation id shown right now (its messages count as read)
  delivery: {}, // message or decision id -> "delivered" | "undelivered" (from live `delivery` frames)
  pushEndpoint: null, // this browser's push subscription endpoint, when it has one (push.js)
};

const subs = new Set();
let version = 0;
export function setState(patch) {
  Object.assign(state, patch);
  version++;
  for (const fn of subs) fn();
}

/** Re-renders the calling component whenever the state changes. */
export function useStore() {
  const [, force] = useReducer((x) => x + 1, 0);
  const seen = useRef(version);
  // Subscribe right after the first render (not in a deferred effect), and
  // catch up on a change made in between: a fast fetch can land before
  // Preact runs effects, which would leave the page showing stale state.
  useLayoutEffect(() => {
    subs.add(force);
    if (version !== seen.current) force();
    return () => subs.delete(force);
  }, []);
  return state;
}

export const agentById = (id) => state.agents.find((a) => a.id === id);
export const agentName = (id) => agentById(id)?.name ?? id;
export const pendingTotal = () => state.agents.reduce((n, a) => n + (a.pending_requests || 0), 0);

let agentsTimer = null;
export async function loadAgents() {
  clearTimeout(agentsTimer);
  agentsTimer = null;
  try {
    const agents = await get("/api/agents");
    setState({ agents, agentsLoaded: true });
  } catch {}
}
/** Refetches the agents list soon, coalescing bursts of frames. */
export function refreshAgentsSoon() {
  if (!agentsTimer) agentsTimer = setTimeout(loadAgents, 150);
}

// ---- frames from /ws/app (and the synthetic "resync" after a reconnect) ----
const frameSubs = new Set();
export const emitFrame = (f) => frameSubs.forEach((fn) => fn(f));

/** Calls handler(frame) for every live frame while the component is mounted. */
export function useFrames(handler) {
  const ref = useRef(handler);
  ref.current = handler;
  useLayoutEffect(() => {
    const fn = (f) => ref.current(f);
    frameSubs.add(fn);
    return () => frameSubs.delete(fn);
  }, []);
}

export const procKey = (agentId, conversationId) => `${agentId}|${conversationId || ""}`;
