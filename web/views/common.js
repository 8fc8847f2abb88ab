// Small shared pieces: avatars, online dots, copy buttons, times, errors.
import { html } from "htm/preact";
import { useState, useEffect, useCallback, useRef } from "preact/hooks";
import { safeUrl } from "../markdown.js";
import { qs } from "../api.js";
import { useStore } from "../store.js";
import { navigate, useRoute } from "../router.js";

export function Avatar({ agent, size = "" }) {
  const a = agent?.avatar || "";
  const url = safeUrl(a);
  if (url) return html`<img class="avatar ${size}" src=${url} alt="" />`;
  const label = (a || agent?.name || "?").trim();
  // An emoji or short text is shown as is; otherwise the initials.
  const short = [...label].length <= 2 ? label : label.split(/\s+/).map((w) => [...w][0]).join("").slice(0, 2).toUpperCase();
  return html`<span class="avatar ${size}" aria-hidden="true">${short}</span>`;
}

export const OnlineDot = ({ online }) =>
  html`<span class="dot ${online ? "on" : "off"}" role="img" aria-label=${online ? "online" : "offline"} title=${online ? "online" : "offline"}></span>`;

export function CopyButton({ text, label = "Copy" }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Older browsers or plain http: select-and-copy fallback.
      const ta = document.createElement("textarea");
      ta.value = text;
      ta.setAttribute("readonly", "");
      ta.style.position = "fixed";
      ta.style.opacity = "0";
      document.body.appendChild(ta);
      ta.select();
      try {
        document.execCommand("copy");
      } catch {}
      ta.remove();
    }
    setDone(true);
    setTimeout(() => setDone(false), 1500);
  };
  return html`<button type="button" class="small" onClick=${copy} aria-label=${label}>${done ? "Copied" : "Copy"}</button>`;
}

/** A value shown in monospace with a copy button next to it. */
export const Secret = ({ label, value }) => html`
  <div class="secret">
    <span class="secret-label">${label}</span>
    <code class="secret-value">${value}</code>
    <${CopyButton} text=${value} label=${`Copy ${label.toLowerCase()}`} />
  </div>
`;

export function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d)) return "";
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

export function timeAgo(iso) {
  if (!iso) return "";
  const s = (Date.now() - new Date(iso).getTime()) / 1000;
  const future = s < 0;
  const a = Math.abs(s);
  const txt = a < 45 ? "a moment" : a < 3600 ? `${Math.round(a / 60)} min` : a < 86400 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86400)} d`;
  if (a < 45) return future ? "in a moment" : "just now";
  return future ? `in ${txt}` : `${txt} ago`;
}

/** Where the agent is, honestly: online (a socket is open), else when it was last seen (its socket or its last REST call). */
export const presence = (a) => (a.online ? "online" : a.last_seen_at ? `last seen ${timeAgo(a.last_seen_at)}` : "never connected");

export const Time = ({ iso, ago = false }) =>
  iso ? html`<time datetime=${iso} title=${new Date(iso).toLocaleString()}>${ago ? timeAgo(iso) : fmtTime(iso)}</time>` : null;

export const ErrorText = ({ error }) => (error ? html`<p class="error" role="alert">${String(error.message || error)}</p>` : null);

/** Runs an async action, tracking busy and error for a form or button. */
export function useAction(fn) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = useCallback(
    async (...args) => {
      setBusy(true);
      setError(null);
      try {
        return await fn(...args);
      } catch (e) {
        setError(e);
      } finally {
        setBusy(false);
      }
    },
    [fn],
  );
  return { run, busy, error, setError };
}

/**
 * Loads data on mount and when deps change; `reload()` fetches again.
 * `setData` is for live updates (frames). A fetch answered while a live update
 * came in may be older than that update, so it is not applied: it is made
 * again (at most 3 times in a row, then the answer wins).
 */
export function useLoad(fn, deps) {
  const [data, setState] = useState(undefined);
  const [error, setError] = useState(null);
  const [n, setN] = useState(0);
  const fetching = useRef(0);
  const raced = useRef(false);
  const retries = useRef(0);
  useEffect(() => {
    let live = true;
    setError(null);
    fetching.current++;
    raced.current = false;
    fn()
      .then(
        (d) => {
          if (!live) return;
          if (raced.current && retries.current < 3) {
            retries.current++;
            setN((x) => x + 1);
            return;
          }
          retries.current = 0;
          setState(d);
        },
        (e) => live && setError(e),
      )
      .finally(() => fetching.current--);
    return () => (live = false);
  }, [...deps, n]);
  const setData = useCallback((d) => {
    if (fetching.current > 0) raced.current = true;
    setState(d);
  }, []);
  // A live change to the loaded list. One that arrives while the list is still
  // loading may be missing from the answer in flight: that load runs again.
  const update = useCallback((change) => {
    if (fetching.current > 0) raced.current = true;
    setState((d) => (d === undefined ? d : change(d)));
  }, []);
  return { data, setData, update, error, reload: () => setN((x) => x + 1) };
}

export const Loading = () => html`<p class="muted" aria-live="polite">Loading…</p>`;

export const AgentFilter = ({ value, agents, onChange }) => html`
  <label class="filter">Agent
    <select value=${value} onChange=${(e) => onChange(e.currentTarget.value)}>
      <option value="">All agents</option>
      ${agents.map((a) => html`<option value=${a.id}>${a.name}</option>`)}
    </select>
  </label>
`;

/** A page across agents (Requests, Activity, Tasks): a title, the ?agent= filter and its list. */
export function AgentFilteredPage({ title, path, List }) {
  const s = useStore();
  const { query } = useRoute();
  const agent = query.get("agent") || "";
  return html`
    <main class="page">
      <div class="page-head">
        <h1>${title}</h1>
        <${AgentFilter} value=${agent} agents=${s.agents} onChange=${(v) => navigate(`${path}${qs({ agent: v })}`, { replace: true })} />
      </div>
      <${List} agentId=${agent || undefined} showAgent=${!agent} key=${agent} />
    </main>
  `;
}
