// nod inbox: entry point. Checks who is signed in, then renders the layout and
// the page for the current /app/... path.
import { html, render, Component } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { get, post, setUnauthorizedHandler } from "./api.js";
import { state, setState, useStore, loadAgents, watchAgents, pendingTotal, unreadTotal } from "./store.js";
import { setFaviconBadge, titleFor } from "./attention.js";
import { startLive, stopLive, askNotifications, notificationsSupported } from "./live.js";
import { useRoute, navigate } from "./router.js";
import { AuthForm } from "./views/auth.js";
import { AgentsPage, CreateAgentPage } from "./views/agents.js";
import { AgentPage } from "./views/agent.js";
import { ActivityPage } from "./views/activity.js";
import { TasksPage, TaskPage, TaskFormPage, RunPage } from "./views/tasks.js";
import { RequestsPage, RequestPage } from "./views/requests.js";
import { NotificationsPage } from "./views/settings.js";
import { registerServiceWorker, setAppBadge, disableOnThisDevice } from "./push.js";

async function boot() {
  try {
    const s = await get("/api/auth/status");
    if (s.user) signedIn(s.user);
    else setState({ status: s.setup_required ? "setup" : "signin" });
  } catch (e) {
    // No answer at all (offline, or the server is down): say so instead of asking to sign in.
    setState({ status: e && e.status === 0 ? "offline" : "signin" });
  }
}
addEventListener("online", () => state.status === "offline" && boot());

function signedIn(user) {
  setState({ status: "ready", user });
  loadAgents();
  watchAgents();
  startLive();
}

export async function signOut() {
  try {
    // A signed-out device gets no more notifications (their buttons could not answer anyway).
    if (state.pushEndpoint) await disableOnThisDevice(await get("/api/push/subscriptions"));
  } catch {}
  try {
    await post("/api/auth/logout");
  } catch {}
  stopLive();
  setState({ status: "signin", user: null, agents: [], agentsLoaded: false });
  navigate("/app");
}

setUnauthorizedHandler(() => {
  if (state.status === "ready") {
    stopLive();
    setState({ status: "signin", user: null });
  }
});

function Header() {
  const { path } = useRoute();
  useStore();
  const pending = pendingTotal();
  const cur = (p) => (p === "/app" ? path === "/app" || path === "/app/" || path.startsWith("/app/agents") : path.startsWith(p)) ? "page" : undefined;
  return html`
    <header class="top">
      <a class="brand" href="/app" aria-label="nod home">nod</a>
      <nav aria-label="Main">
        <a href="/app" aria-current=${cur("/app")}>Agents</a>
        <a href="/app/requests" aria-current=${cur("/app/requests")}>Requests${pending ? html` <span class="badge" aria-label=${`${pending} pending`}>${pending}</span>` : ""}</a>
        <a href="/app/activity" aria-current=${cur("/app/activity")}>Activity</a>
        <a href="/app/tasks" aria-current=${cur("/app/tasks")}>Tasks</a>
      </nav>
      <${LiveBadge} />
    </header>
  `;
}

function LiveBadge() {
  const s = useStore();
  if (s.live === "open") return null;
  return html`<span class="live-state" role="status" title="Live updates">${s.live === "connecting" ? "connecting…" : "offline"}</span>`;
}

/** Signed-in person, notifications and sign out: at the foot of every page. */
function Footer() {
  const s = useStore();
  const [perm, setPerm] = useState(notificationsSupported() ? Notification.permission : "unsupported");
  return html`
    <footer class="foot">
      <span class="muted">Signed in as <strong>${s.user?.username}</strong></span>
      ${perm === "default" &&
      html`<button type="button" class="small" onClick=${async () => setPerm(await askNotifications())}>Enable notifications</button>`}
      <a class="small" href="/app/settings/notifications">Notification settings</a>
      <button type="button" class="small" onClick=${signOut}>Sign out</button>
    </footer>
  `;
}

function Page() {
  const { parts } = useRoute();
  const [a, b, c] = parts;
  if (!a) return html`<${AgentsPage} />`;
  if (a === "agents" && b === "new") return html`<${CreateAgentPage} />`;
  if (a === "agents" && b) return html`<${AgentPage} id=${b} tab=${c} />`;
  if (a === "requests" && b) return html`<${RequestPage} id=${b} />`;
  if (a === "requests") return html`<${RequestsPage} />`;
  if (a === "settings") return html`<${NotificationsPage} />`;
  if (a === "activity") return html`<${ActivityPage} />`;
  if (a === "tasks" && b === "new") return html`<${TaskFormPage} />`;
  if (a === "tasks" && b) return html`<${TaskPage} id=${b} />`;
  if (a === "tasks") return html`<${TasksPage} />`;
  if (a === "runs" && b) return html`<${RunPage} id=${b} />`;
  return html`<main class="page"><h1>Not found</h1><p><a href="/app">Back to the agents</a></p></main>`;
}

/** Keeps one broken view from blanking the whole inbox. */
class Boundary extends Component {
  state = { error: null };
  static getDerivedStateFromError(error) {
    return { error };
  }
  componentDidCatch(error) {
    console.error(error);
  }
  render() {
    if (!this.state.error) return this.props.children;
    return html`<main class="page" role="alert">
      <h1>Something went wrong</h1>
      <p class="muted">${String(this.state.error.message || this.state.error)}</p>
      <button type="button" onClick=${() => location.reload()}>Reload</button>
    </main>`;
  }
}

/** The page for the current path; a new path also clears a caught error. */
function RoutedPage() {
  const { path } = useRoute();
  return html`<${Boundary} key=${path}><${Page} /></${Boundary}>`;
}

function App() {
  const s = useStore();
  const pending = pendingTotal();
  const waiting = s.status === "ready" ? pending + unreadTotal() : 0;
  useEffect(() => {
    document.title = titleFor(waiting);
    setFaviconBadge(waiting);
  }, [waiting]);
  useEffect(() => {
    if (s.agentsLoaded) setAppBadge(pending); // the installed app's badge: requests only (push.md)
  }, [pending, s.agentsLoaded]);
  if (s.status === "loading") return html`<main class="page"><p class="muted">Loading…</p></main>`;
  if (s.status === "offline") return html`<${Offline} />`;
  if (s.status === "setup" || s.status === "signin") return html`<${AuthForm} mode=${s.status} onDone=${signedIn} />`;
  return html`<div class="shell"><a class="skip" href="#main">Skip to content</a><${Header} /><div id="main" tabindex="-1"><${RoutedPage} /></div><${Footer} /></div>`;
}

/** Opened without a connection (from the installed app's cache, or the server is down). */
function Offline() {
  // Tries again by itself: on the browser's "online" event, and every 10 s (a server that was down sends no event).
  useEffect(() => {
    const t = setInterval(boot, 10_000);
    return () => clearInterval(t);
  }, []);
  return html`
    <main class="page offline" role="alert">
      <h1>You're offline</h1>
      <p>nod can't be reached right now, so your requests and messages can't be shown. This page tries again by itself once you're back online.</p>
      <button type="button" class="primary" onClick=${boot}>Try again</button>
    </main>
  `;
}

const root = document.getElementById("root");
root.textContent = ""; // Preact 11 does not clear what is already there
render(html`<${App} />`, root);
boot();
registerServiceWorker();
