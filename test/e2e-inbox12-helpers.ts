// Shared by the issue-12 browser tests: four signed-in views of the same
// inbox (390×844 with a touch screen and 1280×800, each light and dark) and
// screenshots of a page in all four into test-artifacts/.
import { expect } from "bun:test";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { ARTIFACTS, STEP_GUARD_MS, horizontalOverflow, unnamedControls, visit } from "./e2e-helpers.ts";
import type { Person } from "./helpers.ts";

export const PHONE_390 = { width: 390, height: 844 };
export const DESKTOP_1280 = { width: 1280, height: 800 };

export interface View {
  name: string;
  page: Page;
  context: BrowserContext;
  phone: boolean;
  scheme: "light" | "dark";
  errors: string[];
}

/** A signed-in page: the person's session cookie in a fresh context. Phones have a touch screen (pointer: coarse). */
export async function signedInView(browser: Browser, base: string, person: Person, phone: boolean, scheme: "light" | "dark"): Promise<View> {
  const context = await browser.newContext({ viewport: phone ? PHONE_390 : DESKTOP_1280, colorScheme: scheme, hasTouch: phone });
  const [name, value] = person.cookie.split("=") as [string, string];
  await context.addCookies([{ name, value, url: base }]);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => (errors.push(String(e)), console.warn(`[browser] page error: ${e}`)));
  page.on("dialog", (d) => d.dismiss().catch(() => {}));
  page.setDefaultTimeout(STEP_GUARD_MS);
  return { name: `${phone ? 390 : 1280}-${scheme}`, page, context, phone, scheme, errors };
}

/** The view's page in the view's colour scheme (the dark views share the light ones' pages). */
export async function inScheme(v: View) {
  await v.page.emulateMedia({ colorScheme: v.scheme });
  return v.page;
}

/**
 * Phone and desktop, each light and dark. A dark view is its light view's page
 * switched to dark (inScheme), not a page of its own: a second signed-in page
 * and every page load in it cost chromium as much again.
 */
export async function fourViews(browser: Browser, base: string, person: Person) {
  const phone = await signedInView(browser, base, person, true, "light");
  const desk = await signedInView(browser, base, person, false, "light");
  const dark = (v: View): View => ({ ...v, name: v.name.replace("light", "dark"), scheme: "dark" });
  return [phone, dark(phone), desk, dark(desk)];
}

/**
 * Opens path in each view, waits for `ready`, checks nothing sticks out
 * sideways and every control has a name, and saves a screenshot:
 * test-artifacts/inbox12-<name>-<390|1280>-<light|dark>.png. A chat is shot
 * as a person sees it (the viewport at the bottom), other pages whole.
 */
export async function shootAll(views: View[], base: string, p: string, name: string, ready: (page: Page) => Promise<unknown>, opts: { bottom?: boolean } = {}) {
  for (const v of views) {
    await inScheme(v);
    // The dark view of a page just shot light is the same page: no need to load it again.
    if (v.page.url() !== base + p) await visit(v.page, base, p);
    await ready(v.page);
    expect({ view: v.name, p, overflow: await horizontalOverflow(v.page) }).toEqual({ view: v.name, p, overflow: 0 });
    expect({ view: v.name, p, unnamed: await unnamedControls(v.page) }).toEqual({ view: v.name, p, unnamed: [] });
    await shotView(v, name, opts);
  }
  for (const v of views) await v.page.emulateMedia({ colorScheme: "light" });
}

export async function shotView(v: View, name: string, opts: { bottom?: boolean } = {}) {
  if (opts.bottom) await v.page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
  else await v.page.evaluate(() => window.scrollTo(0, 0));
  await v.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await v.page.screenshot({ path: path.join(ARTIFACTS, `inbox12-${name}-${v.name}.png`), fullPage: !opts.bottom });
}

/** The element's box in the viewport. */
export const box = async (page: Page, selector: string) =>
  page.locator(selector).first().evaluate((el) => {
    const r = el.getBoundingClientRect();
    return { top: r.top, bottom: r.bottom, height: r.height, width: r.width };
  });
