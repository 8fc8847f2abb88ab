// Security headers on the inbox: a Content-Security-Policy without inline
// script, no framing (clickjacking), nosniff and a same-origin referrer; and
// the inbox still works in a real browser under that policy.
import { describe, expect, test } from "bun:test";
import { startTestServer, withAgent } from "./helpers.ts";
import { launch, openPage, freePort } from "./e2e-helpers.ts";

describe("security headers on /app", async () => {
  const port = freePort();
  const server = await startTestServer({ port, publicUrl: `http://127.0.0.1:${port}` });

  test("the page has a CSP (script-src 'self', frame-ancestors 'none'), X-Frame-Options, nosniff, Referrer-Policy", async () => {
    for (const path of ["/app", "/app/agents/agt_x/requests"]) {
      const res = await fetch(server.url + path);
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain("unsafe-inline");
      expect(csp).not.toContain("unsafe-eval");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("object-src 'none'");
      expect(csp).toContain("base-uri 'none'");
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("referrer-policy")).toBe("same-origin");
      // the bundle's page has no inline script the policy would block
      const html = await res.text();
      expect([...html.matchAll(/<script\b[^>]*>/g)].every((m) => /\ssrc=/.test(m[0]))).toBe(true);
      expect(html).not.toMatch(/\son[a-z]+=/i);
    }
    const src = /<script[^>]*\ssrc="([^"]+)"/.exec(await (await fetch(server.url + "/app")).text())![1]!;
    expect((await fetch(server.url + src)).headers.get("x-content-type-options")).toBe("nosniff");
  });

  test("in the browser the inbox works under the policy: no violation while signing up, chatting, rendering a table", async () => {
    const { created, agent } = await withAgent(server, { name: "Bot", avatar: "https://example.invalid/a.png" });
    await agent.event({ type: "message", text: "| a | b |\n|:-:|--:|\n| 1 | 2 |\n\n**bold** [link](https://example.com)" });
    const browser = await launch();
    const { page } = await openPage(browser);
    await page.addInitScript(() => {
      (window as any).__csp = [];
      document.addEventListener("securitypolicyviolation", (e) => (window as any).__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    await page.goto(server.url + "/app");
    await page.getByLabel("Username").fill("alice");
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Agents" }).waitFor();
    await page.goto(`${server.url}/app/agents/${created.id}`);
    await page.locator("table td", { hasText: "2" }).waitFor();
    await page.getByRole("textbox").first().fill("hello from the browser");
    await page.keyboard.press("Enter");
    await page.getByText("hello from the browser").first().waitFor();
    const violations = await page.evaluate(() => (window as any).__csp as string[]);
    // the avatar at example.invalid may fail to load, but no directive blocks anything
    expect(violations).toEqual([]);
  }, 60_000);
});
