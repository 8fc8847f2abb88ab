// Live behaviour in the browser: the /ws/app socket comes back after the
// server restarts and the views catch up; notifications are asked for on a
// click only and shown for new requests and messages while the tab is hidden;
// approval-only agents open on their requests.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { startTestServer, owner, AgentClient, eventually } from "./helpers.ts";
import { launch, openPage, shot, BROWSER_TEST_MS } from "./e2e-helpers.ts";
import { connectAgent } from "./ws-helpers.ts";

setDefaultTimeout(BROWSER_TEST_MS); // a hang guard, never a time check

const T = BROWSER_TEST_MS;

describe("live inbox", async () => {
  let server = await startTestServer({ webhookRetryBaseMs: 20, webhookRetryWindowMs: 0 });
  const person = await owner(server);
  // Its webhook points at a closed port: without a socket, nothing reaches it.
  const created = await person.createAgent({ name: "Watcher", webhook_url: "http://127.0.0.1:9/hook" });
  const approver = await person.createAgent({ name: "Gatekeeper", type: "approval_only" });
  let agent = new AgentClient(server.url, created.id, created.secret);
  const browser = await launch();
  const { page, context, dialogs, errors } = await openPage(browser);
  // A stand-in Notification that records what the page does with it.
  await context.addInitScript(() => {
    const w = window as any;
    w.__asked = 0;
    w.__shown = [];
    class FakeNotification {
      static permission = "default";
      static async requestPermission() {
        w.__asked++;
        FakeNotification.permission = "granted";
        return "granted";
      }
      onclick: unknown = null;
      constructor(title: string, opts: { body?: string }) {
        w.__shown.push({ title, body: opts?.body });
      }
      close() {}
    }
    w.Notification = FakeNotification;
  });

  test("sign in; notifications are not asked for on load, only on a click", async () => {
    await page.goto(server.url + "/app");
    await page.getByLabel("Username").fill("alice");
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("link", { name: /Watcher/ }).waitFor();
    expect(await page.evaluate(() => (window as any).__asked)).toBe(0);
    await page.getByRole("button", { name: "Enable notifications" }).click();
    await page.getByRole("button", { name: "Enable notifications" }).waitFor({ state: "detached" });
    expect(await page.evaluate(() => (window as any).__asked)).toBe(1);
  }, T);

  test("an approval-only agent opens on its requests and has no chat", async () => {
    const link = page.getByRole("link", { name: /Gatekeeper/ });
    expect(await link.getAttribute("href")).toBe(`/app/agents/${approver.id}/requests`);
    await link.click();
    await page.getByRole("button", { name: "Pending" }).waitFor();
    expect(await page.getByRole("link", { name: "Chat", exact: true }).count()).toBe(0);
    const gate = new AgentClient(server.url, approver.id, approver.secret);
    await gate.event({ type: "decision", kind: "approval", title: "Open the gate?", description: "Someone is waiting." });
    await page.getByRole("article", { name: "Request: Open the gate?" }).waitFor();
    await eventually(async () => (await page.title()) === "(1) nod", 5000, "title counts the request");
    await shot(page, "approval-only-desktop");
  }, T);

  test("keyboard alone: Tab to a request's Approve button and press Enter", async () => {
    await page.goto(`${server.url}/app/requests`);
    const card = page.getByRole("article", { name: "Request: Open the gate?" });
    await card.waitFor();
    let reached = false;
    for (let i = 0; i < 40 && !reached; i++) {
      await page.keyboard.press("Tab");
      reached = await page.evaluate(() => document.activeElement?.textContent?.trim() === "Approve");
    }
    expect(reached).toBe(true);
    await page.keyboard.press("Enter");
    await card.getByText("Approved by alice").waitFor();
  }, T);

  test("notifications for new requests and messages while the tab is hidden", async () => {
    await page.goto(`${server.url}/app/agents/${created.id}`);
    await page.getByText("No messages yet").waitFor();
    // The permission given in the first test (the stand-in forgets it on a reload).
    await page.evaluate(() => ((window as any).Notification.permission = "granted"));
    await page.evaluate(() => Object.defineProperty(document, "hidden", { configurable: true, get: () => true }));
    await agent.event({ type: "message", text: "Backup finished" });
    await agent.event({ type: "decision", kind: "question", title: "Keep old backups?", description: "" });
    await page.getByText("Backup finished").waitFor();
    const shown = await eventually(async () => {
      const s = await page.evaluate(() => (window as any).__shown);
      return s.length >= 2 && s;
    }, 5000, "two notifications");
    expect(shown).toEqual([
      { title: "Watcher", body: "Backup finished" },
      { title: "Watcher asks", body: "Keep old backups?" },
    ]);
    await page.evaluate(() => Object.defineProperty(document, "hidden", { configurable: true, get: () => false }));
  }, T);

  test("a message the agent could not get is marked, then marked delivered when it connects", async () => {
    const box = page.getByRole("textbox", { name: "Message to Watcher" });
    await box.fill("Are you there?");
    await box.press("Enter");
    const bubble = page.locator(".bubble.user", { hasText: "Are you there?" });
    await bubble.getByText("Not delivered yet").waitFor();
    const sock = await connectAgent(server, created);
    expect((await sock.waitFor((f) => f.type === "user_message" && f.text === "Are you there?")).sender_name).toBe("alice");
    await bubble.getByText("delivered", { exact: true }).waitFor();
    expect(await bubble.getByText("Not delivered yet").count()).toBe(0);
    sock.ws.close();
  }, T);

  test("after the server restarts, the socket reconnects and the chat catches up", async () => {
    server = await server.restart();
    agent = new AgentClient(server.url, created.id, created.secret);
    // Posted while the page may still be reconnecting: it must show up either
    // live or through the refetch that follows the reconnect.
    expect((await agent.event({ type: "message", text: "Sent during the restart" })).status).toBe(200);
    await page.getByText("Sent during the restart").waitFor({ timeout: 15_000 });
    await agent.event({ type: "message", text: "Sent after the reconnect" });
    await page.getByText("Sent after the reconnect").waitFor();
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
  }, T);
});
