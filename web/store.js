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
  delivery: {}, // message or decision id -> "queued" | "delivered" | "undelivered" (GET /api/deliveries, live `delivery` frames)
  runs: {}, // task run id -> the run (GET /api/tasks/runs/:id, live `task_run` frames): task bubbles show its status
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
export const unreadTotal = () => state.agents.reduce((n, a) => n + (a.unread_messages || 0), 0);

/**
 * The order of things in a timeline. Every id the server makes (msg_, dec_,
 * run_, act_ …) is a prefix, then 12 hex digits of milliseconds and 4 of a
 * counter shared by all tables (server/lib/ids.ts): the part after the prefix
 * is strictly increasing across messages and requests alike, where created_at
 * (whole seconds) ties and a plain id comparison would put dec_ before msg_.
 */
export const seq = (id) => String(id).slice(String(id).indexOf("_") + 1);
export const bySeq = (a, b) => (seq(a.id) < seq(b.id) ? -1 : seq(a.id) > seq(b.id) ? 1 : 0);

let agentsTimer = null;
let agentsLoad = 0; // the latest load: an older one still paging drops its result
/** Agents per request: GET /api/agents answers a page (the newest first), ?before= its first agent for the ones before. */
export const AGENTS_PAGE = 200;
export async function loadAgents() {
  clearTimeout(agentsTimer);
  agentsTimer = null;
  const mine = ++agentsLoad;
  try {
    let agents = [];
    for (let before = ""; ; ) {
      const page = await get(`/api/agents?limit=${AGENTS_PAGE}${before && `&before=${encodeURIComponent(before)}`}`);
      if (mine !== agentsLoad) return;
      agents = [...page, ...agents];
      if (page.length < AGENTS_PAGE) break;
      before = page[0].id;
    }
    setState({ agents, agentsLoaded: true });
  } catch {}
}
/** Refetches the agents list soon, coalescing bursts of frames. */
export function refreshAgentsSoon() {
  if (!agentsTimer) agentsTimer = setTimeout(loadAgents, 150);
}

// Agents made elsewhere (`nod agent create` writes the database from another
// process, so no frame tells this page) and last_seen_at of agents that only
// use REST: the list is fetched again when the tab comes back into view, and
// every 30 s while it is in view.
let watching = null;
export function watchAgents() {
  if (watching) return;
  const again = () => state.status === "ready" && !document.hidden && refreshAgentsSoon();
  addEventListener("focus", again);
  document.addEventListener("visibilitychange", again);
  watching = setInterval(again, 30_000);
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

// ---- task runs, for the chat's task bubbles ----
const asked = new Set();
/** The run's status as far as known; fetched once, then kept current by `task_run` frames. */
export function runOf(id) {
  if (!id) return null;
  if (!state.runs[id] && !asked.has(id)) {
    asked.add(id);
    get(`/api/tasks/runs/${encodeURIComponent(id)}`)
      .then((r) => setState({ runs: { ...state.runs, [id]: { ...r, ...state.runs[id] } } }))
      .catch(() => asked.delete(id));
  }
  return state.runs[id] || null;
}
export const putRun = (r) => r && r.id && setState({ runs: { ...state.runs, [r.id]: { ...state.runs[r.id], ...r } } });

/** A just-created agent's secret, kept in memory only (never stored): its setup page shows it until a reload. */
export const fresh = {};
