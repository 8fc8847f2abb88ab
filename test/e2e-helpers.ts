// Shared pieces for the browser tests: headless Debian chromium driven by
// playwright-core, screenshots into test-artifacts/, and a minimal agent
// WebSocket client (/ws/agent/:id with the auth frame).
import { mkdirSync } from "node:fs";
import path from "node:path";
import { afterAll } from "bun:test";
import { chromium, type Browser, type Page } from "playwright-core";

export const ARTIFACTS = path.resolve(import.meta.dir, "..", "test-artifacts");
mkdirSync(ARTIFACTS, { recursive: true });

export const PHONE = { width: 375, height: 740 };
export const DESKTOP = { width: 1280, height: 860 };

export async function launch(): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  afterAll(() => browser.close());
  return browser;
}

/** A page with its own cookie jar; records every JS dialog (alert/confirm) it sees. */
export async function openPage(browser: Browser, viewport = DESKTOP, colorScheme: "light" | "dark" = "light") {
  const context = await browser.newContext({ viewport, colorScheme });
  const page = await context.newPage();
  const dialogs: string[] = [];
  const errors: string[] = [];
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  page.on("pageerror", (e) => (errors.push(String(e)), console.warn(`[browser] page error: ${e}`)));
  if (process.env.NOD_E2E_DEBUG) {
    page.on("console", (m) => console.warn(`[browser] ${m.type()}: ${m.text()}`));
    page.on("framenavigated", (f) => f === page.mainFrame() && console.warn(`[browser] navigated: ${f.url()}`));
    page.on("response", (r) => console.warn(`[browser] ${r.status()} ${r.url()}`));
  }
  // Printed, not asserted: helps to tell a slow server from a broken page.
  page.on("requestfailed", (r) => console.warn(`[browser] request failed: ${r.url()} ${r.failure()?.errorText ?? ""}`));
  page.on("console", (m) => m.type() === "error" && console.warn(`[browser] console error: ${m.text()}`));
  page.setDefaultTimeout(8000);
  return { page, context, dialogs, errors };
}

export async function shot(page: Page, name: string, fullPage = true) {
  // Full-page shots draw sticky bars where the page is scrolled to: start at the top.
  if (fullPage) await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage });
}

/** A free loopback port, so the server's public URL (media links) can name it. */
export function freePort() {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = s.port!;
  s.stop(true);
  return port;
}

/** The page fits the viewport: nothing sticks out sideways. */
export async function horizontalOverflow(page: Page) {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

/** Buttons, inputs, selects, text areas and links that have no accessible name (should be none). */
export async function unnamedControls(page: Page) {
  return page.evaluate(() => {
    const named = (el: Element) => {
      const h = el as HTMLElement & { labels?: NodeListOf<HTMLLabelElement> | null };
      if (h.getAttribute("aria-label")?.trim()) return true;
      const by = h.getAttribute("aria-labelledby");
      if (by && by.split(/\s+/).some((id) => document.getElementById(id)?.textContent?.trim())) return true;
      if (h.labels && [...h.labels].some((l) => l.textContent?.trim())) return true;
      if ((el.tagName === "BUTTON" || el.tagName === "A") && h.textContent?.trim()) return true;
      if (h.getAttribute("title")?.trim()) return true;
      if ([...el.querySelectorAll("img[alt]")].some((i) => i.getAttribute("alt")!.trim())) return true;
      return false;
    };
    return [...document.querySelectorAll("button, input, select, textarea, a[href]")]
      .filter((el) => (el as HTMLInputElement).type !== "hidden" && !named(el))
      .map((el) => el.outerHTML.slice(0, 120));
  });
}

/** Connects an agent's WebSocket and authenticates; collects every frame it receives. */
export async function agentSocket(base: string, agentId: string, secret: string) {
  const ws = new WebSocket(`${base.replace(/^http/, "ws")}/ws/agent/${agentId}`);
  const frames: any[] = [];
  const waiters: { pred: (f: any) => boolean; resolve: (f: any) => void }[] = [];
  ws.onmessage = (e) => {
    const f = JSON.parse(String(e.data));
    frames.push(f);
    for (const w of [...waiters]) if (w.pred(f)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(f));
  };
  const next = (pred: (f: any) => boolean, timeoutMs = 5000) =>
    new Promise<any>((resolve, reject) => {
      const found = frames.find(pred);
      if (found) return resolve(found);
      const w = { pred, resolve };
      waiters.push(w);
      setTimeout(() => {
        if (waiters.includes(w)) reject(new Error(`agent socket: no matching frame in ${timeoutMs} ms; got ${JSON.stringify(frames)}`));
      }, timeoutMs);
    });
  ws.addEventListener("close", (e) => frames.push({ type: "(closed)", code: e.code, reason: e.reason }));
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("agent socket failed to open"));
  });
  ws.send(JSON.stringify({ type: "auth", agent_id: agentId, secret }));
  await next((f) => f.type === "auth_ok");
  return { ws, frames, next, send: (f: unknown) => ws.send(JSON.stringify(f)) };
}
