// Issue 12, in a real browser at 390×844 (touch) and 1280×800, light and
// dark: what tells you something waits (title, favicon badge, an optional
// beep), connecting a new agent, honest presence, and the phone composer.
// Screenshots go to test-artifacts/inbox12-*.png.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import path from "node:path";
import type { Page } from "playwright-core";
import { AgentClient, eventually, owner, startTestServer } from "./helpers.ts";
import { ARTIFACTS, agentSocket, freePort, horizontalOverflow, launch, visit, BROWSER_TEST_MS } from "./e2e-helpers.ts";
import { fourViews, shootAll, shotView, signedInView } from "./e2e-inbox12-helpers.ts";
import { runNod } from "./cli-util.ts";
import { bundleWebApp } from "../server/web.ts";

setDefaultTimeout(BROWSER_TEST_MS); // a hang guard, never a time check
const T = BROWSER_TEST_MS;

const favicon = (page: Page) =>
  page.evaluate(() => {
    const link = document.querySelector('link[rel="icon"]') as HTMLLinkElement;
    return { href: link.href, badge: link.getAttribute("data-badge") };
  });

describe("inbox 12 in the browser: attention, onboarding, presence, the phone composer", async () => {
  const port = freePort();
  const server = await startTestServer({ port, publicUrl: `http://127.0.0.1:${port}` });
  const person = await owner(server);
  const browser = await launch();
  const views = await fourViews(browser, server.url, person);
  const [phone, , desk] = views as [(typeof views)[0], (typeof views)[0], (typeof views)[0], (typeof views)[0]];
  const watcher = await person.createAgent({ name: "Watcher" });
  const agent = new AgentClient(server.url, watcher.id, watcher.secret);

  test("the title counts unread messages and pending requests; the favicon shows the number", async () => {
    const p = desk.page;
    await p.goto(server.url + "/app/requests");
    await p.getByText("Nothing waiting for you.").waitFor();
    expect(await p.title()).toBe("nod");
    const plain = await favicon(p);
    expect(plain).toEqual({ href: `${server.url}/app/icons/favicon-32.png`, badge: null });
    await agent.event({ type: "message", text: "Backup finished." });
    await eventually(async () => (await p.title()) === "(1) nod", 5000, "the unread message in the title");
    const d = (await agent.event({ type: "decision", kind: "approval", title: "Restore yesterday's backup?", description: "" })).body.decision_id;
    await eventually(async () => (await p.title()) === "(2) nod", 5000, "message and request in the title");
    await eventually(async () => (await favicon(p)).badge === "2", 5000, "a badge of 2 on the favicon");
    const icon = (await favicon(p)).href;
    expect(icon.startsWith("data:image/png;base64,")).toBe(true);
    // The badge as drawn, enlarged, to look at.
    const look = await browser.newPage();
    await look.setContent(`<body style="margin:0;background:#fff"><img src="${icon}" width="128" height="128" style="image-rendering:pixelated"><img src="${plain.href}" width="128" height="128"></body>`);
    await look.screenshot({ path: path.join(ARTIFACTS, "inbox12-favicon-badge.png"), clip: { x: 0, y: 0, width: 256, height: 128 } });
    await look.close();
    // Reading the chat and answering the request clear both.
    await visit(p, server.url, `/app/agents/${watcher.id}`);
    await p.getByText("Backup finished.").waitFor();
    await eventually(async () => (await p.title()) === "(1) nod", 5000, "read: only the request left");
    await p.getByRole("article", { name: "Request: Restore yesterday's backup?" }).getByRole("button", { name: "Approve" }).click();
    await eventually(async () => (await p.title()) === "nod", 5000, "nothing waits");
    await eventually(async () => (await favicon(p)).badge === null, 5000, "the plain favicon again");
    expect((await favicon(p)).href).toBe(plain.href);
    expect((await person.get(`/api/decisions/${d}`)).body.status).toBe("approved");
  }, T);

  test("an optional beep for new requests: off by default, a setting in this browser, WebAudio (no sound file)", async () => {
    const v = await signedInView(browser, server.url, person, false, "light");
    const p = v.page;
    // A stand-in AudioContext that counts the beeps it is asked to play.
    await p.addInitScript(() => {
      const w = window as any;
      w.__beeps = 0;
      class FakeAudio {
        state = "running";
        currentTime = 0;
        destination = {};
        resume() {}
        createGain() {
          const ramp = () => {};
          return { gain: { setValueAtTime: ramp, exponentialRampToValueAtTime: ramp }, connect: (x: unknown) => x };
        }
        createOscillator() {
          const set = () => {};
          return { type: "", frequency: { setValueAtTime: set }, connect: (x: unknown) => x, start: () => w.__beeps++, stop() {} };
        }
      }
      w.AudioContext = FakeAudio;
    });
    await p.goto(server.url + "/app/settings/notifications");
    const toggle = p.getByRole("checkbox", { name: /Beep when a new request comes in/ });
    await toggle.waitFor();
    expect(await toggle.isChecked()).toBe(false);
    await agent.event({ type: "decision", kind: "question", title: "Quiet one?", description: "" });
    await eventually(async () => (await p.title()) === "(1) nod", 5000, "the request arrived");
    expect(await p.evaluate(() => (window as any).__beeps)).toBe(0);
    await toggle.check();
    expect(await p.evaluate(() => (window as any).__beeps)).toBe(1); // turning it on lets you hear it
    expect(await p.evaluate(() => localStorage.getItem("nod.sound"))).toBe("on");
    await agent.event({ type: "decision", kind: "question", title: "Loud one?", description: "" });
    await eventually(async () => (await p.title()) === "(2) nod", 5000, "the second request arrived");
    await eventually(async () => (await p.evaluate(() => (window as any).__beeps)) === 2, 5000, "a beep for the new request");
    await p.reload();
    expect(await p.getByRole("checkbox", { name: /Beep when a new request comes in/ }).isChecked()).toBe(true);
    await shotView(v, "sound-setting");
    await v.context.close();
    for (const x of (await person.get(`/api/decisions?status=pending`)).body) await person.post(`/api/decisions/${x.id}/respond`, { status: "dismissed" });
  }, T);

  test("onboarding: the new agent's page has the env, the Claude Code hook and MCP lines, and waits for the first event", async () => {
    const p = desk.page;
    await visit(p, server.url, "/app/agents/new");
    await p.getByLabel("Name").fill("Claude Laptop");
    await p.getByRole("button", { name: "Create agent" }).click();
    await p.waitForURL(/\/app\/agents\/agt_[0-9a-f]{16}\/setup$/);
    const id = new URL(p.url()).pathname.split("/")[3]!;
    await p.getByRole("heading", { name: "Claude Laptop is ready" }).waitFor();
    const secret = (await p.locator(".secret-value").nth(1).textContent())!;
    expect(secret).toMatch(/^nod_[0-9a-f]{40}$/);
    const snippet = (title: string) => p.locator(".snippet", { has: p.getByRole("heading", { name: title }) }).locator("pre");
    expect(await snippet("Environment").textContent()).toBe(`export NOD_API_URL=${server.url}\nexport NOD_AGENT_ID=${id}\nexport NOD_SECRET=${secret}`);
    const hook = JSON.parse((await snippet("Claude Code: ask before each tool call").textContent())!);
    expect(hook.env).toEqual({ NOD_API_URL: server.url, NOD_AGENT_ID: id, NOD_SECRET: secret });
    expect(hook.hooks.PreToolUse[0]).toEqual({
      matcher: "Bash|Edit|Write|WebFetch|AskUserQuestion",
      hooks: [{ type: "command", command: "nod claude-hook --timeout 10m", timeout: 660, onFailure: "block" }],
    });
    expect(await snippet("Claude Code: MCP tools").textContent()).toBe(
      `claude mcp add nod -e NOD_API_URL=${server.url} -e NOD_AGENT_ID=${id} -e NOD_SECRET=${secret} -- nod mcp`,
    );
    for (const name of ["Copy environment", "Copy settings.json hook", "Copy MCP command", "Copy secret"]) expect(await p.getByRole("button", { name }).count()).toBe(1);
    await p.getByRole("heading", { name: "Waiting for the first event…" }).waitFor();
    await shotView(desk, "setup-waiting");
    // The agent's first words replace the waiting line.
    const laptop = new AgentClient(server.url, id, secret);
    expect((await laptop.event({ type: "message", text: "Hello from **the laptop**" })).status).toBe(200);
    await p.getByRole("heading", { name: "First event" }).waitFor();
    await p.locator(".first-event strong", { hasText: "the laptop" }).waitFor();
    await shotView(desk, "setup-first-event");
    // A reload keeps the agent's page; the secret is gone (shown once), the snippets say where it goes.
    await p.reload();
    await p.getByRole("heading", { name: "Claude Laptop", exact: true }).waitFor();
    await p.getByText("The secret was shown once").waitFor();
    expect(await p.content()).not.toContain(secret);
    expect(await snippet("Environment").textContent()).toContain("NOD_SECRET=nod_…");
    await p.getByRole("heading", { name: "First event" }).waitFor();
    await shootAll(views, server.url, `/app/agents/${id}/setup`, "setup", (pg) => pg.getByRole("heading", { name: "First event" }).waitFor());
    // The same flow on a phone, with its secret.
    const ph = phone.page;
    await visit(ph, server.url, "/app/agents/new");
    await ph.getByLabel("Name").fill("Phone Bot");
    await ph.getByRole("button", { name: "Create agent" }).tap();
    await ph.getByRole("heading", { name: "Phone Bot is ready" }).waitFor();
    expect(await horizontalOverflow(ph)).toBe(0);
    await shotView(phone, "setup-new");
  }, T);

  test("an agent created from the shell (another process) appears without a reload", async () => {
    const p = desk.page;
    await visit(p, server.url, "/app");
    await p.getByRole("link", { name: /Watcher/ }).waitFor();
    // The server's store: its data directory, or (NOD_TEST_BACKEND=pg) its PostgreSQL database.
    const database = server.ctx.config.databaseUrl ? ["--database", server.ctx.config.databaseUrl] : [];
    const made = await runNod(["agent", "create", "Shell Bot", "--data", server.dataDir, ...database]);
    expect(made.exitCode).toBe(0);
    expect(await p.getByRole("link", { name: /Shell Bot/ }).count()).toBe(0);
    await p.evaluate(() => window.dispatchEvent(new Event("focus"))); // the tab regains focus
    await p.getByRole("link", { name: /Shell Bot/ }).waitFor();
  }, T);

  test("honest presence: a REST-only agent shows when it was last seen; a message to an offline agent without webhook is queued until delivered", async () => {
    const rest = await person.createAgent({ name: "Rest Bot" });
    const restAgent = new AgentClient(server.url, rest.id, rest.secret);
    const p = desk.page;
    await p.goto(server.url + "/app");
    const row = p.getByRole("link", { name: /Rest Bot/ });
    await row.getByText("never connected").waitFor();
    expect((await restAgent.get("/api/agent/tasks/due")).status).toBe(200);
    await eventually(async () => (await person.get(`/api/agents/${rest.id}`)).body.last_seen_at, 5000, "last_seen_at");
    await p.evaluate(() => window.dispatchEvent(new Event("focus")));
    await row.getByText("last seen just now").waitFor();
    await shootAll(views, server.url, "/app", "agents", (pg) => pg.getByText("last seen just now").first().waitFor());

    const chat = `/app/agents/${rest.id}`;
    await visit(p, server.url, chat);
    await p.locator(".agent-title").getByText("last seen just now").waitFor();
    const box = p.getByRole("textbox", { name: "Message to Rest Bot" });
    await box.fill("Are you there?");
    await box.press("Enter");
    const bubble = p.locator(".bubble.user", { hasText: "Are you there?" });
    await bubble.getByText("queued: Rest Bot is offline and gets it when it next connects").waitFor();
    // Still queued after a reload (from GET /api/deliveries), in every view.
    await shootAll(views, server.url, chat, "queued", (pg) => pg.locator(".bubble.user .queued").waitFor(), { bottom: true });
    await p.goto(server.url + chat);
    await bubble.locator(".queued").waitFor();
    const sock = await agentSocket(server.url, rest.id, rest.secret);
    await sock.next((f) => f.type === "user_message" && f.text === "Are you there?");
    await bubble.getByText("delivered", { exact: true }).waitFor();
    expect(await bubble.locator(".queued").count()).toBe(0);
    sock.ws.close();
  }, T);

  test("the phone composer: Enter makes a new line and the button sends; no footer under the chat; wide tables and code scroll inside their bubble", async () => {
    const p = phone.page;
    await agent.event({
      type: "message",
      text: "| Service | Status | Note |\n|---|---|---|\n| authentication-gateway | Supercalifragilisticexpialidocious | everything-is-fine-here |\n\n```\n" + "docker run --rm -it --network host ghcr.io/example/very-long-image-name:2026.11.23 --flag=value".repeat(2) + "\n```",
    });
    await visit(p, server.url, `/app/agents/${watcher.id}`);
    const box = p.getByRole("textbox", { name: "Message to Watcher" });
    await box.waitFor();
    expect(await p.getByText("Enter sends").count()).toBe(0);
    expect(await box.getAttribute("enterkeyhint")).toBe("enter");
    await box.tap();
    await box.type("first line");
    await box.press("Enter");
    await box.type("second line");
    expect(await box.inputValue()).toBe("first line\nsecond line");
    expect(await p.locator(".bubble.user", { hasText: "first line" }).count()).toBe(0);
    await p.getByRole("button", { name: "Send", exact: true }).tap();
    await p.locator(".bubble.user", { hasText: "second line" }).waitFor();
    await eventually(async () => (await box.inputValue()) === "", 5000, "the composer cleared");
    // No footer under the chat (it is there on other pages).
    expect(await p.locator(".foot").isVisible()).toBe(false);
    // The table scrolls sideways inside its bubble; its words are not broken; so does the code.
    const table = await p.locator(".bubble .table-wrap").evaluate((el) => {
      const cell = [...el.querySelectorAll("td")].find((td) => td.textContent === "Supercalifragilisticexpialidocious")!;
      const range = document.createRange();
      range.selectNodeContents(cell);
      el.scrollLeft = 80;
      return { scrolls: el.scrollWidth > el.clientWidth, lines: range.getClientRects().length, moved: el.scrollLeft > 0 };
    });
    expect(table).toEqual({ scrolls: true, lines: 1, moved: true });
    expect(await p.locator(".bubble pre").evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(true);
    expect(await horizontalOverflow(p)).toBe(0);
    await p.goto(server.url + "/app");
    await p.locator(".foot").waitFor(); // the page renders after its first reads: on a busy machine, after goto() returned
    expect(await p.locator(".foot").isVisible()).toBe(true);
    await shootAll(views, server.url, `/app/agents/${watcher.id}`, "composer", (pg) => pg.locator(".bubble .table-wrap").waitFor(), { bottom: true });
    // On a desktop Enter still sends.
    await visit(desk.page, server.url, `/app/agents/${watcher.id}`);
    await desk.page.getByText("Enter sends, Shift+Enter makes a new line.").waitFor();
  }, T);

  test("“Show older messages” keeps your place", async () => {
    const chatty = await person.createAgent({ name: "Chatty" });
    const c = new AgentClient(server.url, chatty.id, chatty.secret);
    const ids: string[] = [];
    for (let i = 1; i <= 60; i++) ids.push((await c.event({ type: "message", text: `Message ${i}` })).body.message_id);
    for (const v of [phone, desk]) {
      const p = v.page;
      await p.goto(`${server.url}/app/agents/${chatty.id}`);
      await p.locator(`#m-${ids[59]}`).waitFor();
      const more = p.getByRole("button", { name: "Show older messages" });
      await more.waitFor();
      await p.evaluate(() => window.scrollTo(0, 0));
      const anchor = p.locator(`#m-${ids[10]}`); // the oldest one shown (11 of 60)
      const y0 = (await anchor.boundingBox())!.y;
      await more.click();
      await p.locator(`#m-${ids[0]}`).waitFor({ state: "attached" });
      await p.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      const y1 = (await anchor.boundingBox())!.y;
      expect({ view: v.name, kept: Math.abs(y1 - y0) <= 2 }).toEqual({ view: v.name, kept: true });
      await p.screenshot({ path: path.join(ARTIFACTS, `inbox12-older-kept-${v.name}.png`) });
    }
  }, T);

  test("the first load's JavaScript stays under 50 KB gzipped", async () => {
    const out = await bundleWebApp();
    expect(out.success).toBe(true);
    let js = 0;
    for (const o of out.outputs) if (o.path.endsWith(".js")) js += Bun.gzipSync(new Uint8Array(await o.arrayBuffer())).length;
    console.log(`inbox first-load JS: ${(js / 1024).toFixed(1)} KB gzipped`);
    expect(js).toBeLessThan(50 * 1024);
    for (const v of views) expect(v.errors).toEqual([]);
  });
});
