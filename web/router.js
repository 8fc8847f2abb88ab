// Client-side routing with real paths under /app/ (the server answers every
// /app/* path with the same page).
import { useLayoutEffect, useReducer, useRef } from "preact/hooks";

const subs = new Set();
let version = 0;
const changed = () => {
  version++;
  subs.forEach((fn) => fn());
};

export function navigate(path, { replace = false } = {}) {
  if (path === location.pathname + location.search) return;
  history[replace ? "replaceState" : "pushState"](null, "", path);
  changed();
  window.scrollTo(0, 0);
}

addEventListener("popstate", changed);

// Same-page links: plain <a href="/app/..."> elements, handled without a reload.
document.addEventListener("click", (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest && e.target.closest("a[href]");
  if (!a || a.target || a.hasAttribute("download") || a.getAttribute("href").startsWith("#")) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !(url.pathname === "/app" || url.pathname.startsWith("/app/"))) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});

/** The current route: path segments after /app, and the query. */
export function useRoute() {
  const [, force] = useReducer((x) => x + 1, 0);
  const seen = useRef(version);
  useLayoutEffect(() => {
    subs.add(force);
    if (version !== seen.current) force(); // a navigation between render and subscription
    return () => subs.delete(force);
  }, []);
  const parts = location.pathname.replace(/^\/app\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, query: new URLSearchParams(location.search), path: location.pathname };
}
