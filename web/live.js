// One WebSocket to /ws/app keeps every view current. It reconnects with
// exponential backoff; after each (re)connect the "hello" frame is passed on
// as a "resync" so open views refetch whatever they may have missed.
import { setState, state, emitFrame, refreshAgentsSoon, agentName, procKey, putRun } from "./store.js";
import { newRequest } from "./attention.js";
import { clean } from "./text.js";

let ws = null;
let wanted = false;
let attempt = 0;
let timer = null;

export function startLive() {
  if (wanted) return;
  wanted = true;
  connect();
}

export function stopLive() {
  wanted = false;
  clearTimeout(timer);
  if (ws) ws.close();
  ws = null;
}

function connect() {
  clearTimeout(timer);
  setState({ live: "connecting" });
  const sock = new WebSocket(location.origin.replace(/^http/, "ws") + "/ws/app");
  ws = sock;
  sock.onmessage = (e) => {
    let f;
    try {
      f = JSON.parse(e.data);
    } catch {
      return;
    }
    if (f && typeof f.type === "string") handle(f);
  };
  sock.onopen = () => {
    attempt = 0;
    setState({ live: "open" });
  };
  sock.onclose = () => {
    if (ws !== sock) return;
    ws = null;
    setState({ live: "closed" });
    if (!wanted) return;
    // 0.5 s, 1 s, 2 s … up to 30 s, with jitter.
    const delay = Math.min(30_000, 500 * 2 ** attempt) * (0.8 + Math.random() * 0.4);
    attempt++;
    timer = setTimeout(connect, delay);
  };
}

// Reconnect at once when the tab comes back or the network returns.
if (typeof window !== "undefined") {
  const kick = () => {
    if (wanted && !ws) {
      attempt = 0;
      connect();
    }
  };
  window.addEventListener("online", kick);
  document.addEventListener("visibilitychange", () => !document.hidden && kick());
}

function handle(f) {
  switch (f.type) {
    case "hello": {
      const processing = {};
      for (const p of f.processing || []) processing[procKey(p.agent_id, p.conversation_id)] = p.status_text || "";
      const online = new Set(f.online || []);
      setState({ processing, agents: state.agents.map((a) => ({ ...a, online: online.has(a.id) })) });
      refreshAgentsSoon();
      emitFrame({ type: "resync" });
      return;
    }
    case "agent_status":
      setState({ agents: state.agents.map((a) => (a.id === f.agent_id ? { ...a, online: !!f.online } : a)) });
      break;
    case "processing": {
      const processing = { ...state.processing };
      const key = procKey(f.agent_id, f.conversation_id);
      if (f.active) processing[key] = f.status_text || "";
      else delete processing[key];
      setState({ processing });
      break;
    }
    case "message":
      if (f.message && f.message.role !== "user") {
        notify(agentName(f.message.agent_id), f.message.report_title || f.message.text || "sent an image", `/app/agents/${f.message.agent_id}`);
      }
      refreshAgentsSoon();
      break;
    case "decision":
      if (f.decision) {
        notify(`${agentName(f.decision.agent_id)} asks`, f.decision.title, "/app/requests");
        newRequest();
      }
      refreshAgentsSoon();
      break;
    case "task_run":
      putRun(f.run);
      break;
    case "delivery": {
      const ref = f.message_id || f.decision_id;
      if (ref && (f.status === "delivered" || f.status === "undelivered")) setState({ delivery: { ...state.delivery, [ref]: f.status } });
      break;
    }
    case "agent":
    case "agent_deleted":
    case "decision_resolved":
    case "conversation_read":
      refreshAgentsSoon();
      break;
  }
  emitFrame(f);
}

// ---- browser notifications: asked for on a click only, shown while hidden ----
export const notificationsSupported = () => typeof Notification !== "undefined";
export const notificationsAllowed = () => notificationsSupported() && Notification.permission === "granted";
export async function askNotifications() {
  if (!notificationsSupported()) return "unsupported";
  return Notification.requestPermission();
}

function notify(title, body, path) {
  // A device with Web Push on hears it from the service worker; one notification is enough.
  if (!document.hidden || !notificationsAllowed() || state.pushEndpoint) return;
  try {
    const n = new Notification(clean(title).slice(0, 100), { body: clean(body).slice(0, 200), tag: path });
    n.onclick = () => {
      window.focus();
      history.pushState(null, "", path);
      dispatchEvent(new PopStateEvent("popstate"));
      n.close();
    };
  } catch {}
}
