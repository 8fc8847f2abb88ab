// nod's service worker (scope /app): keeps the app shell for offline starts,
// shows Web Push notifications, and answers requests from their buttons
// without opening the app. The server prepends self.__NOD_SHELL__ (the
// shell's URLs) and self.__NOD_VERSION__ when it serves this file, so a new
// inbox bundle is a new service worker.
const SHELL = self.__NOD_SHELL__ || ["/app"];
const CACHE = "nod-shell-" + (self.__NOD_VERSION__ || "dev");
const ICON = "/app/icons/icon-192.png";
const BADGE = "/app/icons/badge-96.png";

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key.startsWith("nod-shell-") && key !== CACHE) await caches.delete(key);
      await self.clients.claim();
    })(),
  );
});

// Pages: the network first (always fresh), the cached shell when offline; the
// app then shows its offline state. Hashed assets and icons: the cache first.
// The API is never cached.
self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  const inApp = url.pathname === "/app" || url.pathname.startsWith("/app/");
  if (req.mode === "navigate" && inApp) {
    event.respondWith(fetch(req).catch(async () => (await caches.match("/app", { cacheName: CACHE })) || Response.error()));
  } else if (url.pathname.startsWith("/app/assets/") || url.pathname.startsWith("/app/icons/") || url.pathname === "/app/manifest.webmanifest") {
    event.respondWith(caches.match(req, { cacheName: CACHE }).then((hit) => hit || fetch(req)));
  }
});

// ---- push ----

self.addEventListener("push", (event) => {
  let p;
  try {
    p = event.data ? event.data.json() : {};
  } catch {
    p = { title: "nod", body: event.data ? event.data.text() : "" };
  }
  event.waitUntil(showPush(p));
});

/** Shows what a push says; a resolved request replaces its notification quietly. */
async function showPush(p) {
  setBadge(p.badge);
  const options = { body: p.body || "", tag: p.tag || "nod", data: p, icon: ICON, badge: BADGE, timestamp: Date.now() };
  if (p.resolved) {
    options.silent = true;
  } else {
    options.renotify = true;
    options.actions = Array.isArray(p.actions) ? p.actions.slice(0, 2) : [];
    options.requireInteraction = p.type === "request";
  }
  await self.registration.showNotification(p.title || "nod", options);
}

function setBadge(n) {
  if (typeof n !== "number" || !self.navigator.setAppBadge) return;
  (n > 0 ? self.navigator.setAppBadge(n) : self.navigator.clearAppBadge()).catch(() => {});
}

// ---- tapping a notification or one of its buttons ----

self.addEventListener("notificationclick", (event) => {
  event.waitUntil(onNotificationClick(event.notification, event.action));
});

/** A button answers the request here and now; the notification itself opens its page. */
async function onNotificationClick(notification, action) {
  const p = notification.data || {};
  notification.close();
  if (action && p.decision_id && p.answers && p.answers[action]) return answer(p, p.answers[action]);
  return openApp(p.url || "/app");
}
self.nodNotificationClick = onNotificationClick; // the browser tests call the same path

const OUTCOME = { approved: "Approved", rejected: "Rejected", responded: "Answered", dismissed: "Dismissed" };

/** POSTs the answer with this browser's session (a same-origin request); says so when it fails. */
async function answer(p, body) {
  let problem;
  try {
    const res = await fetch(`/api/decisions/${encodeURIComponent(p.decision_id)}/respond`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (res.ok) {
      const d = await res.json();
      const word = OUTCOME[d.status] || d.status;
      await self.registration.showNotification(p.title || "nod", {
        body: d.resolved_by ? `${word} by ${d.resolved_by}` : word,
        tag: p.tag,
        silent: true,
        data: { ...p, resolved: true, status: d.status },
        icon: ICON,
        badge: BADGE,
      });
      return;
    }
    const detail = await res
      .json()
      .then((j) => j.detail)
      .catch(() => "");
    problem =
      res.status === 401 ? "You are signed out of nod on this device." : res.status === 409 ? "It was already answered." : detail || `The server said ${res.status}.`;
  } catch {
    problem = "nod could not be reached.";
  }
  await self.registration.showNotification(`Could not answer: ${p.title || "request"}`, {
    body: `${problem} Tap to open the request.`,
    tag: p.tag,
    data: { url: p.url, failed: true, tag: p.tag },
    icon: ICON,
    badge: BADGE,
    requireInteraction: true,
  });
}

/** Focuses an open nod window and shows the page there, or opens a new one. */
async function openApp(url) {
  const wins = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const win = wins.find((c) => new URL(c.url).pathname.startsWith("/app"));
  if (win) {
    win.postMessage({ type: "nod-open", url });
    await win.focus().catch(() => {});
    return;
  }
  await self.clients.openWindow(url);
}

// The browser replaced this device's subscription: register the new one.
self.addEventListener("pushsubscriptionchange", (event) => {
  event.waitUntil(
    (async () => {
      const { public_key } = await (await fetch("/api/push/key", { credentials: "same-origin" })).json();
      const sub = await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: public_key });
      await fetch("/api/push/subscriptions", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(sub.toJSON()),
      });
    })(),
  );
});
