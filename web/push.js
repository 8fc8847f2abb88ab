// The installable app and Web Push on this device: registers the service
// worker (offline shell, notifications), subscribes this browser with the
// server's VAPID key, keeps the app badge at the pending count, and opens the
// page a tapped notification names.
import { get, post, del } from "./api.js";
import { setState } from "./store.js";
import { navigate } from "./router.js";

const SW_URL = "/app/sw.js";
const SCOPE = "/app";

export const swSupported = () => typeof navigator !== "undefined" && "serviceWorker" in navigator;
export const pushSupported = () => swSupported() && typeof PushManager !== "undefined" && typeof Notification !== "undefined";
export const isStandalone = () => matchMedia("(display-mode: standalone)").matches || navigator.standalone === true;
export const isIOS = () => /iPhone|iPad|iPod/.test(navigator.userAgent) || (navigator.platform === "MacIntel" && navigator.maxTouchPoints > 1);

let registering = null; // the registration promise: a click may come before it settles

/** Registers the service worker once per page load; the app works without it. */
export async function registerServiceWorker() {
  if (!swSupported() || !isSecureContext) return null;
  registering = navigator.serviceWorker.register(SW_URL, { scope: SCOPE });
  try {
    await registering;
  } catch (e) {
    console.warn("service worker not registered", e);
    return null;
  }
  // A tapped notification asks an open window to show its page.
  navigator.serviceWorker.addEventListener("message", (e) => {
    if (e.data && e.data.type === "nod-open" && typeof e.data.url === "string" && e.data.url.startsWith("/app")) navigate(e.data.url);
  });
  closeAnsweredNotifications();
  refreshPushState();
  return registering;
}

async function ready() {
  try {
    if (!registering) throw new Error();
    await registering;
  } catch {
    throw new Error("This browser cannot run nod's service worker here.");
  }
  return navigator.serviceWorker.ready;
}

/** Notifications replaced by an answer have done their job once the app is open. */
async function closeAnsweredNotifications() {
  try {
    const reg = await navigator.serviceWorker.ready;
    for (const n of await reg.getNotifications()) if (n.data && (n.data.resolved || n.data.type === "test")) n.close();
  } catch {}
}

/** This browser's push subscription, or null. */
export async function currentSubscription() {
  if (!pushSupported() || !registering) return null;
  try {
    return await (await ready()).pushManager.getSubscription();
  } catch {
    return null;
  }
}

/** Marks whether this device gets pushes (the in-page notifications then stay quiet). */
export async function refreshPushState() {
  const sub = await currentSubscription();
  setState({ pushEndpoint: sub ? sub.endpoint : null });
  return sub;
}

/** Asks for permission, subscribes with the server's key and registers the device with nod. */
export async function enableOnThisDevice(name) {
  if (!pushSupported()) throw new Error("This browser cannot receive push notifications.");
  const permission = await Notification.requestPermission();
  if (permission !== "granted") throw new Error(permission === "denied" ? "Notifications are blocked for nod in this browser." : "Notifications were not allowed.");
  const reg = await ready();
  const { public_key } = await get("/api/push/key");
  let sub = await reg.pushManager.getSubscription();
  if (sub && !sameKey(sub, public_key)) {
    await sub.unsubscribe(); // made for another server key: it would never work
    sub = null;
  }
  if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: public_key });
  const saved = await post("/api/push/subscriptions", { ...sub.toJSON(), ...(name ? { name } : {}) });
  setState({ pushEndpoint: sub.endpoint });
  return saved;
}

/** Stops pushes to this browser: removes it from nod and unsubscribes. */
export async function disableOnThisDevice(devices) {
  const sub = await currentSubscription();
  if (!sub) return;
  const mine = (devices || []).find((d) => d.endpoint === sub.endpoint);
  if (mine) await del(`/api/push/subscriptions/${mine.id}`);
  await sub.unsubscribe().catch(() => {});
  setState({ pushEndpoint: null });
}

function sameKey(sub, publicKey) {
  const key = sub.options && sub.options.applicationServerKey;
  if (!key) return true;
  const b64 = btoa(String.fromCharCode(...new Uint8Array(key))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return b64 === publicKey;
}

/** The app icon's badge shows the pending requests (where the platform has one). */
export function setAppBadge(n) {
  if (typeof navigator === "undefined" || !navigator.setAppBadge) return;
  (n > 0 ? navigator.setAppBadge(n) : navigator.clearAppBadge()).catch(() => {});
}
