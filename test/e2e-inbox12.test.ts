// Issue 12, in a real browser at 390×844 (touch) and 1280×800, light and
// dark: requests in the chat where they belong, a phone-first queue, answers
// that are hard to get wrong, and outcomes you can see. Screenshots go to
// test-artifacts/inbox12-*.png.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import path from "node:path";
import type { Page } from "playwright-core";
import { AgentClient, eventually, owner, startTestServer } from "./helpers.ts";
import { ARTIFACTS, freePort, launch, visit, BROWSER_TEST_MS } from "./e2e-helpers.ts";
import { box, fourViews, inScheme, shootAll, shotView } from "./e2e-inbox12-helpers.ts";

setDefaultTimeout(BROWSER_TEST_MS); // a hang guard, never a time check
const T = BROWSER_TEST_MS;

/** The chat's timeline as ids, top to bottom: m-<message id> for bubbles, the request id for cards. */
const timeline = (page: Page) =>
  page.locator(".log > *").evaluateAll((els) => els.map((e) => e.id || e.querySelector("[data-decision]")?.getAttribute("data-decision") || ""));

/** The accessible names of a card's buttons, in order. */
async function buttonNames(page: Page, card: string) {
  const snap = await page.locator(card).ariaSnapshot();
  return [...snap.matchAll(/- button "((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`) as string);
}

const activeDecision = (page: Page) => page.evaluate(() => (document.activeElement as HTMLElement | null)?.closest("[data-decision]")?.getAttribute("data-decision") ?? null);
const activeText = (page: Page) => page.evaluate(() => (document.activeElement as HTMLElement | null)?.textContent?.trim() ?? "");

describe("inbox 12 in the browser: order, queue, answers, outcomes", async () => {
  const port = freePort();
  const server = await startTestServer({ port, publicUrl: `http://127.0.0.1:${port}` });
  const person = await owner(server);
  const bot = await person.createAgent({ name: "Build Bot" });
  const agent = new AgentClient(server.url, bot.id, bot.secret);
  const gate = await person.createAgent({ name: "Gate", type: "approval_only" });
  const gateAgent = new AgentClient(server.url, gate.id, gate.secret);
  const browser = await launch();
  const views = await fourViews(browser, server.url, person);
  const [phone, , desk] = views as [(typeof views)[0], (typeof views)[0], (typeof views)[0], (typeof views)[0]];
  const chat = `/app/agents/${bot.id}`;

  const ask = async (who: AgentClient, body: Record<string, unknown>) => {
    const r = await who.event({ type: "decision", description: "", ...body });
    expect(r.status).toBe(200);
    return r.body.decision_id as string;
  };
  const say = async (text: string, extra: Record<string, unknown> = {}) => {
    const r = await agent.event({ type: "message", text, ...extra });
    expect(r.status).toBe(200);
    return r.body as { message_id: string; conversation_id: string };
  };
  const stored = async (id: string) => (await person.get(`/api/decisions/${id}`)).body;

  test("each request shows right after the message that introduced it (same second, ids of two tables)", async () => {
    const first = await say("Starting the deploy.");
    const pairs: [string, string][] = [];
    // Five pairs sent back to back: most land in the same second, where created_at ties.
    for (let i = 1; i <= 5; i++) {
      const m = await say(`Step ${i} is ready.`);
      pairs.push([m.message_id, await ask(agent, { kind: "approval", title: `Go on with step ${i}?`, conversation_id: first.conversation_id })]);
    }
    await desk.page.goto(server.url + chat);
    // The chat loads its messages and its requests separately: wait for both.
    await desk.page.getByRole("article", { name: "Request: Go on with step 5?" }).waitFor();
    await desk.page.locator(`#m-${pairs[4]![0]}`).waitFor();
    let order = await timeline(desk.page);
    for (const [m, d] of pairs) expect(order[order.indexOf(`m-${m}`) + 1]).toBe(d);
    // Live, too: a pair arriving while the chat is open.
    const m = await say("Step 6 is ready.");
    const d = await ask(agent, { kind: "approval", title: "Go on with step 6?", conversation_id: first.conversation_id });
    await desk.page.getByRole("article", { name: "Request: Go on with step 6?" }).waitFor();
    order = await timeline(desk.page);
    expect(order.slice(-2)).toEqual([`m-${m.message_id}`, d]);
    await shootAll(views, server.url, chat, "order", (p) => p.getByRole("article", { name: "Request: Go on with step 6?" }).waitFor(), { bottom: true });
    for (const [, id] of [...pairs, [m.message_id, d]]) expect((await person.post(`/api/decisions/${id}/respond`, { status: "approved" })).status).toBe(200);
  }, T);

  let hookRequest = "";
  let before = "";
  let after = "";
  test("requests without a conversation (the hook, nod ask) are pinned above the composer while pending, then sit in the timeline", async () => {
    before = (await say("I will ask before touching the database.")).message_id;
    hookRequest = await ask(agent, { kind: "permission", title: "Allow: Bash(psql -c 'drop table tmp')", description: "From the Claude Code hook." });
    after = (await say("Waiting for your answer on the database.")).message_id;
    for (const v of [phone, desk]) {
      await v.page.goto(server.url + chat);
      const card = v.page.locator(".pinned").getByRole("article", { name: /drop table tmp/ });
      await card.waitFor();
      // Below the newest message, right above the composer, on screen where a phone user is: at the bottom.
      await eventually(async () => {
        const [pin, composer, last, c] = [await box(v.page, ".pinned"), await box(v.page, ".composer"), await box(v.page, `#m-${after}`), await card.boundingBox()];
        return last.bottom <= pin.top + 1 && pin.bottom <= composer.top + 1 && c!.y >= 0 && c!.y < composer.top;
      }, 5000, `the pinned request in view above the composer (${v.name})`);
      expect(await v.page.locator(".log").getByRole("article", { name: /drop table tmp/ }).count()).toBe(0);
      expect(await v.page.getByText("1 request waits for your answer").count()).toBe(1);
    }
    await shootAll(views, server.url, chat, "pinned", (p) => p.locator(".pinned article").waitFor(), { bottom: true });

    // Answered from the pin (a reason with Deny): the answer shows where it was given…
    const card = phone.page.locator(".pinned").getByRole("article", { name: /drop table tmp/ });
    await phone.page.goto(server.url + chat);
    await card.getByRole("button", { name: "Add note" }).click();
    await card.getByLabel("Note (optional)").fill("Not on production");
    await card.getByRole("button", { name: "Deny" }).click();
    await card.getByText("Rejected by alice").waitFor();
    expect(await stored(hookRequest)).toMatchObject({ status: "rejected", note: "Not on production" });
    // …and once the chat is opened again, it sits in the timeline between the messages around it.
    await phone.page.reload();
    await phone.page.locator(".log").getByRole("article", { name: /drop table tmp/ }).waitFor();
    const order = await timeline(phone.page);
    expect(order.indexOf(hookRequest)).toBe(order.indexOf(`m-${before}`) + 1);
    expect(order.indexOf(`m-${after}`)).toBe(order.indexOf(hookRequest) + 1);
    expect(await phone.page.locator(".pinned").count()).toBe(0);
  }, T);

  const queue: string[] = [];
  test("the queue on a phone: 13 requests in compact cards, answers at least 44 px high, the note behind Add note, oldest first", async () => {
    for (let i = 1; i <= 13; i++) queue.push(await ask(gateAgent, { kind: "approval", title: `Deploy service ${i}?`, description: `Build ${100 + i} passed.` }));
    const p = phone.page;
    await visit(p, server.url, `/app/requests?agent=${gate.id}`);
    const cards = p.locator("article.decision.pending");
    await eventually(async () => (await cards.count()) === 13, 5000, "13 cards");
    expect(await cards.first().getAttribute("aria-label")).toBe("Request: Deploy service 1?");
    expect(await cards.last().getAttribute("aria-label")).toBe("Request: Deploy service 13?");
    expect(await p.locator("article.decision textarea").count()).toBe(0);
    const list = await box(p, ".requests .stack");
    const screens = list.height / 844;
    console.log(`13 pending requests at 390×844: ${screens.toFixed(2)} screens`);
    expect(screens).toBeLessThan(4);
    const small = await p.locator("article.decision button").evaluateAll((bs) => bs.filter((b) => b.getBoundingClientRect().height < 44).map((b) => b.textContent));
    expect(small).toEqual([]);
    await p.getByLabel("Order").selectOption("newest");
    expect(await cards.first().getAttribute("aria-label")).toBe("Request: Deploy service 13?");
    await p.getByLabel("Order").selectOption("oldest");
    await shootAll(views, server.url, `/app/requests?agent=${gate.id}`, "queue", (pg) => pg.getByRole("article", { name: "Request: Deploy service 13?" }).waitFor());
    // The note, opened: its field takes the focus.
    await p.goto(`${server.url}/app/requests?agent=${gate.id}`);
    const firstCard = p.getByRole("article", { name: "Request: Deploy service 1?" });
    await firstCard.getByRole("button", { name: "Add note" }).tap();
    await eventually(async () => (await p.evaluate(() => document.activeElement?.tagName)) === "TEXTAREA", 5000, "the note field focused");
    await firstCard.screenshot({ path: path.join(ARTIFACTS, "inbox12-card-note-390-light.png") });
  }, T);

  test("working through the queue: after each answer the next request has the focus; the keyboard alone does it", async () => {
    const p = phone.page;
    await p.goto(`${server.url}/app/requests?agent=${gate.id}`);
    await p.getByRole("article", { name: "Request: Deploy service 1?" }).getByRole("button", { name: "Approve" }).tap();
    await eventually(async () => (await activeDecision(p)) === queue[1], 5000, "focus on request 2 after answering 1");

    const k = desk.page;
    await k.goto(`${server.url}/app/requests?agent=${gate.id}`);
    await k.getByRole("article", { name: "Request: Deploy service 2?" }).waitFor();
    let reached = false;
    for (let i = 0; i < 60 && !reached; i++) {
      await k.keyboard.press("Tab");
      reached = (await activeText(k)) === "Approve" && (await activeDecision(k)) === queue[1];
    }
    expect(reached).toBe(true);
    await k.keyboard.press("Enter");
    await eventually(async () => (await activeDecision(k)) === queue[2] && (await activeText(k)).startsWith("Approval"), 5000, "focus on the card of request 3");
    await k.keyboard.press("Tab");
    expect(await activeText(k)).toBe("Approve");
    await k.keyboard.press("Tab");
    expect(await activeText(k)).toBe("Reject");
    await k.keyboard.press("Tab");
    expect(await activeText(k)).toBe("Add note");
    await k.keyboard.press("Enter");
    await eventually(async () => (await k.evaluate(() => document.activeElement?.tagName)) === "TEXTAREA", 5000, "the note field focused");
    await k.keyboard.type("Not before the freeze ends");
    await k.keyboard.press("Tab"); // Approve
    await k.keyboard.press("Tab"); // Reject
    expect(await activeText(k)).toBe("Reject");
    await k.keyboard.press("Enter");
    await eventually(async () => (await activeDecision(k)) === queue[3], 5000, "focus on request 4");
    expect(await stored(queue[0]!)).toMatchObject({ status: "approved" });
    expect(await stored(queue[1]!)).toMatchObject({ status: "approved" });
    expect(await stored(queue[2]!)).toMatchObject({ status: "rejected", note: "Not before the freeze ends" });
    await shotView(desk, "queue-worked");
  }, T);

  test("safer answers: Deny takes a reason, Dismiss sits apart and says the agent is not told, Other… focuses its field", async () => {
    const deny = await ask(gateAgent, { kind: "permission", title: "Allow: Bash(rm -rf build)" });
    const skip = await ask(gateAgent, { kind: "approval", title: "Dismiss" }); // agent text naming a button
    const pick = await ask(gateAgent, { kind: "choice", title: "Which region?", options: ["eu-west", "us-east"] });
    const k = desk.page;
    await k.goto(`${server.url}/app/requests?agent=${gate.id}`);
    const permission = `article[data-decision="${deny}"]`;
    await k.locator(permission).waitFor();
    expect(await buttonNames(k, permission)).toEqual(["Allow", "Deny", "Add note", "Dismiss"]);
    expect(await buttonNames(k, `article[data-decision="${skip}"]`)).toEqual(["Approve", "Reject", "Add note", "Dismiss"]);
    // Dismiss is not among the answers, and says what it does.
    for (const id of [deny, skip, pick]) {
      expect(await k.locator(`article[data-decision="${id}"] .actions`).getByRole("button", { name: "Dismiss" }).count()).toBe(0);
      const said = await k
        .locator(`article[data-decision="${id}"] .answer-foot`)
        .getByRole("button", { name: "Dismiss" })
        .evaluate((b) => document.getElementById(b.getAttribute("aria-describedby")!)?.textContent);
      expect(said).toBe("the agent is not told");
    }
    await k.locator(permission).getByRole("button", { name: "Add note" }).click();
    await k.locator(permission).getByLabel("Note (optional)").fill("Too broad: list the files first");
    await k.locator(permission).getByRole("button", { name: "Deny" }).click();
    await k.locator(permission).getByText("Rejected by alice").waitFor();
    expect(await stored(deny)).toMatchObject({ status: "rejected", note: "Too broad: list the files first" });

    const dismissCard = k.locator(`article[data-decision="${skip}"]`);
    await dismissCard.locator(".answer-foot").getByRole("button", { name: "Dismiss" }).click();
    await dismissCard.getByText("Dismissed by alice").waitFor();
    await dismissCard.getByText("the agent was not told").waitFor();
    // Nothing went to the agent for it.
    const events = (await person.get(`/api/deliveries?agent_id=${gate.id}&status=delivered`)).body.concat((await person.get(`/api/deliveries?agent_id=${gate.id}`)).body);
    expect(events.some((e: any) => e.decision_id === skip)).toBe(false);

    const choice = k.locator(`article[data-decision="${pick}"]`);
    await choice.getByRole("button", { name: "Other…" }).click();
    expect(await k.evaluate(() => (document.activeElement as HTMLInputElement).labels?.[0]?.textContent?.trim())).toBe("Other answer");
    await k.keyboard.type("ap-south");
    await k.keyboard.press("Enter");
    await choice.getByText("Answered by alice").waitFor();
    expect(await stored(pick)).toMatchObject({ status: "responded", note: "ap-south" });

    const cards = [await ask(gateAgent, { kind: "permission", title: "Allow: Bash(npm publish)", allows_always: true, always_allow_options: [{ pattern: "Bash(npm publish)", label: "just this" }] })];
    for (const v of views) {
      await (await inScheme(v)).goto(`${server.url}/app/requests?agent=${gate.id}`);
      const card = v.page.locator(`article[data-decision="${cards[0]}"]`);
      await card.getByRole("button", { name: "Add note" }).click();
      await card.screenshot({ path: path.join(ARTIFACTS, `inbox12-card-permission-${v.name}.png`) });
    }
    for (const v of views) await v.page.emulateMedia({ colorScheme: "light" });
  }, T);

  test("outcomes: a failed run is red and says failed, a running one says running; task bubbles link to their run", async () => {
    const task = (await person.post(`/api/agents/${bot.id}/tasks`, { name: "Nightly backup", prompt: "Back up the database.", schedule: "0 3 * * *" })).body;
    const run = (await agent.post(`/api/agent/tasks/${task.id}/run/start`)).body.run_id as string;
    await say("Backing up 3 databases…", { task_run_id: run });
    const p = desk.page;
    await visit(p, server.url, chat);
    const bubble = p.locator(`.bubble.task:has(a[href="/app/runs/${run}"])`).first();
    await bubble.getByText("Task running").waitFor();
    expect(await agent.post(`/api/agent/tasks/runs/${run}/complete`, { status: "failed", summary: "The disk is **full**." }).then((r) => r.status)).toBe(200);
    const failed = p.getByRole("article", { name: "Task failed: Nightly backup" });
    await failed.waitFor();
    await failed.getByText("Task failed").waitFor();
    // Every bubble of that run now says failed: none is left looking like a success.
    await eventually(async () => (await p.locator(".bubble.task-running").count()) === 0, 5000, "no bubble still running");
    expect(await p.locator(".bubble.task-failed").count()).toBe(2);
    const colors = await failed.evaluate((el) => {
      const cs = getComputedStyle(el);
      const probe = document.createElement("span");
      probe.style.color = "var(--danger)";
      el.appendChild(probe);
      const danger = getComputedStyle(probe).color;
      probe.remove();
      return { border: cs.borderLeftColor, danger };
    });
    expect(colors.border).toBe(colors.danger);
    const run2 = (await agent.post(`/api/agent/tasks/${task.id}/run/start`)).body.run_id as string;
    await agent.post(`/api/agent/tasks/runs/${run2}/complete`, { status: "completed", summary: "All 3 backed up." });
    await p.getByRole("article", { name: "Task completed: Nightly backup" }).waitFor();
    await shootAll(views, server.url, chat, "runs", (pg) => pg.getByRole("article", { name: "Task completed: Nightly backup" }).waitFor(), { bottom: true });

    await p.goto(server.url + chat);
    await failed.getByRole("link", { name: "Open run" }).click();
    await p.waitForURL(new RegExp(`/app/tasks/${task.id}\\?run=${run}$`));
    const runCard = p.getByRole("article", { name: `Run ${run}` });
    await runCard.getByText("failed").waitFor();
    expect(await runCard.getAttribute("aria-current")).toBe("true");
  }, T);

  test("activity: a preview, links to the request, message or run, a type filter, and no ✓ for rejected or dismissed", async () => {
    const p = desk.page;
    await visit(p, server.url, `/app/activity?agent=${bot.id}`);
    const message = p.locator(".act-agent_message").filter({ hasText: "Waiting for your answer on the database." });
    await message.waitFor();
    // The hook request Deny'd from the pin: ✗, not ✓; the approvals: ✓.
    const denied = p.locator(".act-decision_resolved").filter({ hasText: "drop table tmp" });
    expect((await denied.locator(".act-icon").textContent())?.trim()).toBe("✗");
    expect(await denied.locator(".act-outcome").textContent()).toBe("rejected");
    const approved = p.locator(".act-decision_resolved").filter({ hasText: "Go on with step 1?" });
    expect((await approved.locator(".act-icon").textContent())?.trim()).toBe("✓");
    expect(await p.locator(".act-system").filter({ hasText: "run failed" }).locator(".act-icon").textContent()).toBe("!");
    // The filter.
    await p.getByLabel("Show").selectOption("decision_resolved");
    await eventually(async () => (await p.locator(".act").count()) > 0 && (await p.locator(".act:not(.act-decision_resolved)").count()) === 0, 5000, "answers only");
    await p.getByLabel("Show").selectOption("");
    // Dismissed requests get no ✓ either (Gate's feed).
    await visit(p, server.url, `/app/activity?agent=${gate.id}`);
    const dismissed = p.locator(".act-decision_resolved").filter({ hasText: "dismissed" }).first();
    expect((await dismissed.locator(".act-icon").textContent())?.trim()).toBe("–");
    await shootAll(views, server.url, `/app/activity?agent=${gate.id}`, "activity", (pg) => pg.locator(".act").first().waitFor());
    await shootAll(views, server.url, `/app/activity?agent=${bot.id}`, "activity-bot", (pg) => pg.locator(".act-agent_message").first().waitFor());

    // Links: the message opens in its chat, highlighted; the request on its page.
    await p.goto(`${server.url}/app/activity?agent=${bot.id}`);
    await message.getByRole("link").click();
    await p.waitForURL(/\/chat\?message=msg_/);
    await p.locator(`#m-${after}.target`).waitFor();
    await visit(p, server.url, `/app/activity?agent=${bot.id}`);
    await denied.getByRole("link").first().click();
    await p.waitForURL(new RegExp(`/app/requests/${hookRequest}$`));
    await p.getByText("Rejected by alice").waitFor();
  }, T);

  test("expired and withdrawn requests still show as such", async () => {
    const soon = await ask(gateAgent, { kind: "approval", title: "Quick one?", expires_in: 1 });
    const withdrawn = await ask(gateAgent, { kind: "question", title: "Never mind?" });
    expect((await gateAgent.post(`/api/agent/decisions/${withdrawn}/cancel`)).status).toBe(200);
    await eventually(async () => (await stored(soon)).status === "expired", 10_000, "the request to expire");
    const p = desk.page;
    await visit(p, server.url, `/app/requests?agent=${gate.id}`);
    await p.getByRole("button", { name: "Answered" }).click();
    await p.locator(`article[data-decision="${soon}"]`).getByText("Expired").waitFor();
    await p.locator(`article[data-decision="${withdrawn}"]`).getByText("Withdrawn by the agent").waitFor();
    for (const v of views) expect(v.errors).toEqual([]);
  }, T);
});
