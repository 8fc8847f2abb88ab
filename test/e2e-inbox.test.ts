// The inbox in a real browser, as a person uses it: first-run setup, creating
// an agent, live messages and requests, answering every kind of request,
// safe rendering of agent text, and the phone layout.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, Page, BrowserContext } from "playwright-core";
import { startTestServer, AgentClient, Person, eventually, type TestServer } from "./helpers.ts";
import { launch, freePort, openPage, shot, horizontalOverflow, unnamedControls, PHONE, visit, BROWSER_TEST_MS } from "./e2e-helpers.ts";
import { connectAgent, type AgentSocketClient } from "./ws-helpers.ts";

setDefaultTimeout(BROWSER_TEST_MS); // a hang guard, never a time check

let server: TestServer;
let browser: Browser;
let page: Page;
let context: BrowserContext;
let dialogs: string[];
let pageErrors: string[];
let agent: AgentClient;
let agentId = "";
let person: Person;
let sock: AgentSocketClient | undefined;
/** The agent's socket, opened in the approval test; later checks fail without it. */
function agentSock() {
  if (!sock) throw new Error("the agent WebSocket (/ws/agent/:id) was not opened (see the approval test)");
  return sock;
}

const T = BROWSER_TEST_MS;

describe("inbox in the browser", async () => {
  const port = freePort();
  server = await startTestServer({ port, publicUrl: `http://127.0.0.1:${port}` });
  browser = await launch();
  ({ page, context, dialogs, errors: pageErrors } = await openPage(browser));

  test("first run: the setup form creates the owner and signs in", async () => {
    const phone = await openPage(browser, PHONE);
    await phone.page.goto(server.url + "/app");
    await phone.page.getByRole("heading", { name: "Create the owner account" }).waitFor();
    expect(await horizontalOverflow(phone.page)).toBe(0);
    expect(await unnamedControls(phone.page)).toEqual([]);
    await shot(phone.page, "setup-phone");
    await phone.context.close();

    await page.goto(server.url + "/app");
    await page.getByRole("heading", { name: "Create the owner account" }).waitFor();
    await shot(page, "setup-desktop");
    await page.getByLabel("Username").fill("alice");
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByRole("heading", { name: "Agents" }).waitFor();
    await page.getByText("No agents yet").waitFor();
    person = new Person(server.url);
    await person.post("/api/auth/login", { username: "alice", password: "correct horse battery" });
  }, T);

  test("create an agent: id, secret and webhook secret shown once, with a curl line", async () => {
    await page.getByRole("link", { name: "New agent" }).click();
    await page.getByLabel("Name").fill("Deploy Bot");
    await page.getByLabel("Avatar").fill("🚀");
    await page.getByLabel("Webhook URL").fill("http://127.0.0.1:9/hook");
    await page.getByRole("button", { name: "Create agent" }).click();
    await page.getByRole("heading", { name: "Deploy Bot is ready" }).waitFor();
    const values = await page.locator(".secret-value").allTextContents();
    expect(values[0]).toMatch(/^agt_[0-9a-f]{16}$/);
    expect(values[1]).toMatch(/^nod_[0-9a-f]{40}$/);
    expect(values[2]).toMatch(/^whsec_[0-9a-f]{32,}$/);
    for (const name of ["Copy agent id", "Copy secret", "Copy webhook signing secret", "Copy curl command"])
      expect(await page.getByRole("button", { name }).count()).toBe(1);
    const curl = await page.locator(".curl pre").textContent();
    expect(curl).toContain(`X-Nod-Secret: ${values[1]}`);
    expect(curl).toContain(`${server.url}/api/agent/events`);
    await shot(page, "agent-created-desktop");
    agentId = values[0]!;
    agent = new AgentClient(server.url, agentId, values[1]!);
    // The curl line works as printed (same headers and body).
    const body = JSON.parse(curl!.match(/-d '(.*)'$/)![1]!);
    expect((await agent.event(body)).status).toBe(200);
    await page.getByRole("link", { name: "Open Deploy Bot" }).click();
    await page.getByRole("region", { name: "Chat with Deploy Bot" }).waitFor();
    await page.getByText("Hello from Deploy Bot").waitFor();
  }, T);

  test("a message and an approval request appear live; Approve reaches the agent's socket", async () => {
    sock = await connectAgent(server, agent, { keep: true }); // used by the tests after this one
    expect((await agent.event({ type: "message", text: "Build **142** is green.\n\n- tests pass\n- lint clean" })).status).toBe(200);
    await page.getByText("Build 142 is green.").waitFor();
    expect(await page.locator(".bubble strong", { hasText: "142" }).count()).toBe(1);

    const convs = (await person.get(`/api/agents/${agentId}/conversations`)).body;
    const conversation_id = convs[0].id;
    const r = await agent.event({ type: "decision", kind: "approval", title: "Deploy to production?", description: "Build 142, 3 commits.", conversation_id });
    expect(r.status).toBe(200);
    const card = page.getByRole("article", { name: "Request: Deploy to production?" });
    await card.waitFor();
    await eventually(async () => (await page.title()) === "(1) nod", 5000, "title counts the pending request");
    await shot(page, "chat-request-desktop");

    await card.getByRole("button", { name: "Add note" }).click();
    await card.getByLabel("Note (optional)").fill("ship it");
    await card.getByRole("button", { name: "Approve" }).click();
    await card.getByText("Approved by alice").waitFor();
    await card.getByText("“ship it”").waitFor();
    await eventually(async () => (await page.title()) === "nod", 5000, "title without pending requests");
    const resolved = await agentSock().waitFor((f) => f.type === "decision_resolved" && f.decision_id === r.body.decision_id);
    expect(resolved.status).toBe("approved");
    expect(resolved.note).toBe("ship it");
  }, T);

  test("the composer: Enter sends, Shift+Enter makes a new line", async () => {
    const box = page.getByRole("textbox", { name: "Message to Deploy Bot" });
    await box.fill("first line");
    await box.press("Shift+Enter");
    await box.type("second line");
    expect(await box.inputValue()).toBe("first line\nsecond line");
    await box.press("Enter");
    await page.locator(".bubble.user", { hasText: "second line" }).waitFor();
    // The live frame can draw the bubble before the send has returned and cleared the box: wait for that too.
    await eventually(async () => (await box.inputValue()) === "", 8000, "the composer to be cleared after sending");
    const msgs = (await person.get(`/api/conversations/${(await person.get(`/api/agents/${agentId}/conversations`)).body[0].id}/messages`)).body;
    expect(msgs.at(-1).text).toBe("first line\nsecond line");
    expect((await agentSock().waitFor((f) => f.type === "user_message" && f.text === "first line\nsecond line")).sender_name).toBe("alice");
  }, T);

  test("agent text with HTML renders as text: no script or handler runs", async () => {
    const evil = `<img src=x onerror=alert(1)> and <script>alert(2)</script> [x](javascript:alert(3))`;
    expect((await agent.event({ type: "message", text: evil })).status).toBe(200);
    await page.getByText("<img src=x onerror=alert(1)>", { exact: false }).waitFor();
    await page.getByText("<script>alert(2)</script>", { exact: false }).waitFor();
    await Bun.sleep(300);
    expect(dialogs).toEqual([]);
    expect(await page.locator('.log img[src="x"], .log script').count()).toBe(0);
    expect(await page.locator('a[href^="javascript:"]').count()).toBe(0);
  }, T);

  test("report cards open full screen; task results, images and the Thinking… bubble", async () => {
    await agent.event({ type: "processing_start", status_text: "Reading the logs" });
    await page.getByText("Reading the logs").waitFor();
    await agent.event({
      type: "message",
      text: "## Summary\n\nAll **good**.\n\n```\nok 12 tests\n```",
      report_title: "Nightly report",
      report_description: "12 checks",
    });
    await agent.event({ type: "processing_stop" });
    await page.getByText("Reading the logs").waitFor({ state: "detached" });
    await agent.event({ type: "message", text: "Here is the graph", image_base64: "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==" });
    await page.getByRole("img", { name: "Image from Deploy Bot" }).waitFor();
    expect(await page.getByRole("img", { name: "Image from Deploy Bot" }).evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(1);
    await page.getByRole("button", { name: "Open report: Nightly report" }).click();
    const dialog = page.getByRole("dialog", { name: "Nightly report" });
    await dialog.getByText("ok 12 tests").waitFor();
    await shot(page, "report-desktop", false);
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    await shot(page, "chat-desktop", false);
  }, T);

  test("a choice answered with Other, a question answered, a permission always allowed with a pattern", async () => {
    const choice = await agent.event({ type: "decision", kind: "choice", title: "Which environment?", description: "Pick one.", options: ["Staging", "Production"] });
    const question = await agent.event({ type: "decision", kind: "question", title: "When should I run the migration?", description: "" });
    const permission = await agent.event({
      type: "decision",
      kind: "permission",
      title: "Allow: Bash(npm install stripe)",
      description: "The agent wants to run a command.",
      allows_always: true,
      always_allow_options: [
        { pattern: "Bash(npm install stripe)", label: "Just this" },
        { pattern: "Bash(npm install *)", label: "All npm installs" },
      ],
    });
    for (const r of [choice, question, permission]) expect(r.status).toBe(200);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: /Requests/ }).click();
    await page.getByRole("heading", { name: "Requests" }).waitFor();
    await eventually(async () => (await page.title()) === "(3) nod", 5000, "title counts 3 pending");
    await shot(page, "requests-desktop");

    const c = page.getByRole("article", { name: "Request: Which environment?" });
    await c.getByRole("group", { name: "Options from the agent" }).getByRole("radio", { name: "Staging" }).waitFor();
    await c.getByRole("button", { name: "Other…" }).click();
    await c.getByLabel("Other answer").fill("Both, staging first");
    await c.getByRole("button", { name: "Send", exact: true }).click();
    await c.getByText("Answered by alice").waitFor();

    const q = page.getByRole("article", { name: "Request: When should I run the migration?" });
    await q.getByLabel("Your answer").fill("Tonight at 22:00");
    await q.getByRole("button", { name: "Send answer" }).click();
    await q.getByText("Answered by alice").waitFor();

    const p = page.getByRole("article", { name: "Request: Allow: Bash(npm install stripe)" });
    await p.getByRole("radio", { name: "Bash(npm install *)" }).check();
    await p.getByRole("button", { name: "Always allow" }).click();
    await p.getByText("Always allowed").waitFor();

    const get = async (id: string) => (await person.get(`/api/decisions/${id}`)).body;
    expect(await get(choice.body.decision_id)).toMatchObject({ status: "responded", note: "Both, staging first", resolved_by: "alice" });
    expect(await get(question.body.decision_id)).toMatchObject({ status: "responded", note: "Tonight at 22:00" });
    expect(await get(permission.body.decision_id)).toMatchObject({ status: "approved", always_allow: true, always_allow_pattern: "Bash(npm install *)" });
    const f = await agentSock().waitFor((f) => f.type === "decision_resolved" && f.decision_id === permission.body.decision_id);
    expect(f).toMatchObject({ status: "approved", always_allow: true, always_allow_pattern: "Bash(npm install *)" });
    await eventually(async () => (await page.title()) === "nod", 5000, "no pending left");
    await page.getByRole("button", { name: "Answered" }).click();
    await page.getByRole("article", { name: "Request: Which environment?" }).waitFor();
    await shot(page, "requests-answered-desktop");
  }, T);

  test("dismiss; a task proposal shows the proposed task", async () => {
    const prop = await agent.event({ type: "task_proposal", title: "Daily digest?", task_name: "Digest", task_prompt: "Summarise **yesterday**", task_schedule: "0 9 * * 1-5" });
    expect(prop.status).toBe(200);
    await page.getByRole("button", { name: "Pending" }).click();
    const card = page.getByRole("article", { name: "Request: Daily digest?" });
    await card.getByText("every weekday at 09:00").waitFor();
    await card.getByText("Task proposal").waitFor();
    await card.getByRole("button", { name: "Dismiss" }).click();
    await card.getByText("Dismissed by alice").waitFor();
  }, T);

  test("agents list with counts; activity; settings; sign out and in", async () => {
    await page.goto(`${server.url}/app/requests`);
    await agent.event({ type: "message", text: "Unread one" });
    await agent.event({ type: "decision", kind: "approval", title: "Restart the worker?", description: "It is stuck." });
    await agent.event({ type: "alert", title: "Running: npm test", text: "in ci" });
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Agents" }).click();
    const row = page.getByRole("link", { name: /Deploy Bot/ });
    await row.getByText("1 pending request").waitFor();
    await row.getByText("1 unread message").waitFor();
    agentSock(); // connected: the list shows the agent online
    await row.getByRole("img", { name: "online" }).waitFor();
    await shot(page, "agents-desktop");

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Activity" }).click();
    await page.getByText("Running: npm test").waitFor();
    await page.getByText("alice approved: Deploy to production?").waitFor();
    const titles = await page.locator(".act-title").allTextContents();
    expect(titles[0]).toBe("Running: npm test"); // newest first
    await agent.event({ type: "alert", title: "Tests passed" });
    await eventually(async () => (await page.locator(".act-title").first().textContent()) === "Tests passed", 5000, "live activity");
    await page.getByLabel("Agent").selectOption(agentId);
    await page.getByText("Running: npm test").waitFor();
    await shot(page, "activity-desktop");

    await page.goto(`${server.url}/app/agents/${agentId}/settings`);
    await page.getByRole("heading", { name: "Edit" }).waitFor();
    await page.getByLabel("Name").fill("Deploy Bot 2");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByRole("heading", { name: "Deploy Bot 2" }).waitFor();
    await page.getByRole("button", { name: "Rotate secret" }).click();
    await page.getByRole("button", { name: "Yes, rotate the secret" }).click();
    await page.getByText("The new secret, shown only this once").waitFor();
    const newSecret = (await page.locator(".secret-value").last().textContent())!;
    expect(newSecret).toMatch(/^nod_[0-9a-f]{40}$/);
    expect((await agent.event({ type: "alert", title: "old secret" })).status).toBe(401);
    agent = new AgentClient(server.url, agentId, newSecret);
    expect((await agent.event({ type: "alert", title: "new secret" })).status).toBe(200);
    await shot(page, "settings-desktop");

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    expect(await unnamedControls(page)).toEqual([]);
    await shot(page, "signin-desktop");
    await page.getByLabel("Username").fill("alice");
    await page.getByLabel("Password").fill("wrong password!");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").waitFor();
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("link", { name: /Deploy Bot 2/ }).waitFor();
  }, T);

  test("at 375 px no page scrolls sideways (and in dark mode)", async () => {
    // Long unbroken content must wrap or scroll inside its bubble, not widen the page.
    await agent.event({
      type: "message",
      text: "```\n" + "x".repeat(300) + "\n```\n" + "y".repeat(200) + " https://example.com/" + "z".repeat(150) + "\n\n| a | b |\n|---|---|\n| " + "w".repeat(80) + " | 2 |",
    });
    // One phone page, each of its pages checked light, then switched to dark and checked again.
    const phone = await browser.newContext({ viewport: PHONE, storageState: await context.storageState() });
    const p = await phone.newPage();
    p.on("dialog", (d) => (dialogs.push(d.message()), d.dismiss()));
    const pages: [string, string, string][] = [
      ["/app", "agents", "Agents"],
      [`/app/agents/${agentId}`, "chat", "Enter sends"],
      [`/app/agents/${agentId}/settings`, "settings", "Edit"],
      ["/app/requests", "requests", "Requests"],
      ["/app/activity", "activity", "Activity"],
      ["/app/agents/new", "new-agent", "New agent"],
    ];
    for (const [path, name, marker] of pages) {
      await visit(p, server.url, path);
      await p.getByText(marker).first().waitFor();
      for (const scheme of ["light", "dark"] as const) {
        await p.emulateMedia({ colorScheme: scheme });
        await Bun.sleep(150);
        expect({ path, scheme, overflow: await horizontalOverflow(p) }).toEqual({ path, scheme, overflow: 0 });
        expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
        expect({ path, unnamed: await unnamedControls(p) }).toEqual({ path, unnamed: [] });
        // The chat is shown as a person sees it: the newest messages above the composer.
        if (name === "chat") await p.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
        await shot(p, `${name}-phone${scheme === "dark" ? "-dark" : ""}`, name !== "chat");
      }
      await p.emulateMedia({ colorScheme: "light" });
    }
    await phone.close();
    expect(dialogs).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 60_000);

  test("delete an agent after a confirmation", async () => {
    await page.goto(`${server.url}/app/agents/${agentId}/settings`);
    await page.getByRole("button", { name: "Delete agent" }).click();
    await page.getByRole("button", { name: "Yes, delete Deploy Bot 2" }).click();
    await page.getByText("No agents yet").waitFor();
    expect((await person.get(`/api/agents/${agentId}`)).status).toBe(404);
    sock?.ws.close();
  }, T);
});
