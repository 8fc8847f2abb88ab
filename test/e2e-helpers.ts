// Shared pieces for the browser tests: headless Debian chromium driven by
// playwright-core and screenshots into test-artifacts/. Agent sockets are
// ws-helpers.ts's connectAgent.
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { afterAll } from "bun:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { connectAgent, type Frame } from "./ws-helpers.ts";

export const ARTIFACTS = path.resolve(import.meta.dir, "..", "test-artifacts");
mkdirSync(ARTIFACTS, { recursive: true });

export const PHONE = { width: 375, height: 740 };
export const DESKTOP = { width: 1280, height: 860 };

/**
 * Hang guards for the browser tests, never time checks: a step (one wait or
 * click) and a whole test. A busy machine (three test workers, chromium, a
 * core kept busy by something else) makes a test take many times longer.
 */
export const STEP_GUARD_MS = 30_000;
export const BROWSER_TEST_MS = 120_000;

/**
 * The browser the tests drive: $CHROMIUM_PATH, else Debian's
 * chromium-headless-shell (the old headless mode, Playwright's own choice for
 * headless runs: the same Blink without the browser's UI layer, about half
 * the CPU per page), else the full chromium.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH || ["/usr/bin/chromium-headless-shell", "/usr/bin/chromium"].find((p) => existsSync(p)) || "/usr/bin/chromium";

let shared: Promise<Browser> | undefined;

/**
 * The test process's chromium, started by the first browser test file and
 * kept for the next ones a test worker runs (starting one costs about a
 * second). A file gets its own pages through its own contexts: when the file
 * is done, every context still open is closed. Closing the browser itself is
 * allowed: the next file starts another.
 */
export async function launch(): Promise<Browser> {
  shared ??= chromium
    .launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    })
    .then((browser) => {
      browser.on("disconnected", () => (shared = undefined));
      return browser;
    });
  const browser = await shared;
  afterAll(async () => {
    for (const context of browser.contexts()) await context.close().catch(() => {});
  });
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
  page.setDefaultTimeout(STEP_GUARD_MS);
  return { page, context, dialogs, errors };
}

export async function shot(page: Page, name: string, fullPage = true) {
  // Full-page shots draw sticky bars where the page is scrolled to: start at the top.
  if (fullPage) await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage });
}

/**
 * Opens an /app path the way a click on a link does: inside the app when it is
 * already loaded (a fresh page load costs chromium several times more CPU),
 * else with a page load. The same path again is a reload.
 */
export async function visit(page: Page, base: string, path: string) {
  const here = page.url();
  if (!here.startsWith(base + "/app") || here === base + path) return page.goto(base + path);
  await page.evaluate((p) => {
    history.pushState(null, "", p);
    dispatchEvent(new PopStateEvent("popstate"));
  }, path);
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

/**
 * The agent socket of ws-helpers.ts (connectAgent), by the name and with the
 * next() browser tests used: one agent-socket client for every test.
 */
export async function agentSocket(base: string, agentId: string, secret: string) {
  const s = await connectAgent({ url: base }, { id: agentId, secret }, { keep: true });
  return Object.assign(s, { next: (pred: (f: Frame) => boolean, timeoutMs?: number) => s.waitFor(pred, timeoutMs) });
}
