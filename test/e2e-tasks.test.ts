// Tasks in the browser: create one with the schedule checked as you type,
// run it now, see the agent get task_due and its summary come back rendered;
// enable/disable, edit, event tasks with their trigger URL, delete.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { startTestServer, owner, AgentClient, eventually } from "./helpers.ts";
import { launch, freePort, openPage, shot, horizontalOverflow, unnamedControls, visit, PHONE, BROWSER_TEST_MS } from "./e2e-helpers.ts";
import { connectAgent } from "./ws-helpers.ts";

setDefaultTimeout(BROWSER_TEST_MS); // a hang guard, never a time check

const T = BROWSER_TEST_MS;

describe("tasks in the browser", async () => {
  const port = freePort();
  const server = await startTestServer({ port, publicUrl: `http://127.0.0.1:${port}` });
  const person = await owner(server);
  const created = await person.createAgent({ name: "Reporter" });
  const agent = new AgentClient(server.url, created.id, created.secret);
  const browser = await launch();
  const { page, context, dialogs, errors } = await openPage(browser);
  let taskId = "";

  test("sign in, then create a task with the cron checked as you type", async () => {
    await page.goto(`${server.url}/app/agents/${created.id}/tasks`);
    await page.getByLabel("Username").fill("alice");
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("No tasks yet").waitFor();
    await page.getByRole("link", { name: "New task" }).click();
    await page.getByRole("heading", { name: "New task" }).waitFor();
    await page.getByLabel("Name").fill("Morning digest");
    await page.getByLabel("Prompt").fill("Summarise what happened overnight.");
    const cron = page.getByLabel("Cron expression");
    await page.getByText("every weekday at 09:00").waitFor();
    expect(await page.locator(".next-runs li").count()).toBe(5);
    await cron.fill("61 * * * *");
    await page.locator(".cron-check .error").waitFor();
    expect(await page.getByRole("button", { name: "Create task" }).isDisabled()).toBe(true);
    await cron.fill("*/15 * * * *");
    await page.getByText("every 15 minutes", { exact: false }).first().waitFor();
    await page.getByLabel("Time zone").fill("Europe/Berlin");
    await page.getByText("every 15 minutes", { exact: false }).first().waitFor();
    await shot(page, "task-form-desktop");
    await page.getByRole("button", { name: "Create task" }).click();
    await page.getByRole("heading", { name: "Morning digest" }).waitFor();
    taskId = new URL(page.url()).pathname.split("/").at(-1)!;
    expect(taskId).toMatch(/^tsk_/);
    const t = (await person.get(`/api/tasks/${taskId}`)).body;
    expect(t).toMatchObject({ name: "Morning digest", schedule: "*/15 * * * *", timezone: "Europe/Berlin", enabled: true });
    await page.getByText("No runs yet").waitFor();
  }, T);

  test("run now: the agent gets task_due; the summary shows rendered, in the task and in the chat", async () => {
    const sock = await connectAgent(server, created);
    await page.getByRole("button", { name: "Run Morning digest now" }).click();
    const due = await sock.waitFor((f) => f.type === "task_due" && f.task_id === taskId);
    expect(due.run_id).toMatch(/^run_/);
    await page.locator(".run").first().waitFor();
    const done = await agent.post(`/api/agent/tasks/runs/${due.run_id}/complete`, { status: "completed", summary: "**3 items** overnight:\n\n- deploy ok\n- <b>no</b> alerts" });
    expect(done.status).toBe(200);
    await page.locator(".run strong", { hasText: "3 items" }).waitFor();
    await page.locator(".run").getByText("<b>no</b> alerts").waitFor();
    await page.locator(".run .chip", { hasText: "completed" }).waitFor();
    await shot(page, "task-desktop");
    sock.ws.close();

    await visit(page, server.url, `/app/agents/${created.id}`);
    const bubble = page.getByRole("article", { name: "Task completed: Morning digest" });
    await bubble.locator("strong", { hasText: "3 items" }).waitFor();
    await shot(page, "chat-task-result-desktop");
  }, T);

  test("enable / disable, edit", async () => {
    await visit(page, server.url, `/app/tasks/${taskId}`);
    const enabled = page.getByRole("checkbox", { name: "Enabled" });
    await enabled.waitFor();
    expect(await enabled.isChecked()).toBe(true);
    await enabled.uncheck();
    await eventually(async () => (await person.get(`/api/tasks/${taskId}`)).body.enabled === false, 5000, "disabled");
    await enabled.check();
    await eventually(async () => (await person.get(`/api/tasks/${taskId}`)).body.enabled === true, 5000, "enabled");

    await page.getByRole("button", { name: "Edit task" }).click();
    await page.getByLabel("Name").fill("Evening digest");
    await page.getByLabel("Cron expression").fill("0 18 * * 1-5");
    await page.getByText("every weekday at 18:00").waitFor();
    await page.getByRole("button", { name: "Save task" }).click();
    await page.getByRole("heading", { name: "Evening digest" }).waitFor();
    expect((await person.get(`/api/tasks/${taskId}`)).body).toMatchObject({ name: "Evening digest", schedule: "0 18 * * 1-5" });
  }, T);

  test("an event task shows its trigger URL with a copy button", async () => {
    await visit(page, server.url, `/app/tasks/new?agent=${created.id}`);
    await page.getByLabel("Name").fill("On push");
    await page.getByLabel("Prompt").fill("Review the pushed commits.");
    await page.getByRole("radio", { name: "When called (trigger URL)" }).check();
    await page.getByRole("button", { name: "Create task" }).click();
    await page.getByRole("heading", { name: "On push" }).waitFor();
    const url = (await page.locator(".secret-value").first().textContent())!;
    expect(url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/webhook/`));
    await page.getByRole("button", { name: "Copy trigger URL" }).waitFor();
    const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: '{"ref":"main"}' });
    expect(r.status).toBe(202);
    await page.locator(".run").first().waitFor();
    await page.getByText("each time its webhook is called").waitFor();
    await shot(page, "task-event-desktop");

    await visit(page, server.url, "/app/tasks");
    await page.getByRole("article", { name: "Task: On push" }).waitFor();
    await page.getByRole("article", { name: "Task: Evening digest" }).getByText("every weekday at 18:00").waitFor();
    await shot(page, "tasks-desktop");
  }, T);

  test("an approved task proposal becomes a task, linked from its card", async () => {
    const r = await agent.event({ type: "task_proposal", title: "Weekly cleanup?", task_name: "Cleanup", task_prompt: "Delete old branches.", task_schedule: "30 8 * * 1" });
    expect(r.status).toBe(200);
    await visit(page, server.url, "/app/requests");
    const card = page.getByRole("article", { name: "Request: Weekly cleanup?" });
    await card.getByText("every Monday at 08:30").waitFor();
    await card.locator(".proposal").getByText("Delete old branches.").waitFor();
    await card.getByRole("button", { name: "Approve" }).click();
    await card.getByText("Approved by alice").waitFor();
    await card.getByRole("link", { name: "Open the task" }).click();
    await page.getByRole("heading", { name: "Cleanup" }).waitFor();
    await page.getByText("every Monday at 08:30").waitFor();
  }, T);

  test("a once task runs at once", async () => {
    await visit(page, server.url, `/app/tasks/new?agent=${created.id}`);
    await page.getByLabel("Name").fill("One-off check");
    await page.getByLabel("Prompt").fill("Check the disks once.");
    await page.getByRole("radio", { name: "Once" }).check();
    await page.getByRole("button", { name: "Create task" }).click();
    await page.getByRole("heading", { name: "One-off check" }).waitFor();
    await page.locator(".schedule", { hasText: "once" }).waitFor();
    await page.locator(".run").first().waitFor();
  }, T);

  test("a run that starts while the task page is still loading its runs shows up", async () => {
    // The inbox socket is up first (its hello makes open views reload), then the
    // task page opens inside the app. Its runs list is answered by the server
    // at once but handed to the page only after the run's live frame reached
    // it: the answer lacks the run, and only the frame knows of it.
    const frames: string[] = [];
    page.on("websocket", (ws) => ws.on("framereceived", (f) => frames.push(String(f.payload))));
    await page.goto(`${server.url}/app/tasks`);
    await eventually(async () => frames.some((f) => f.includes('"hello"')), 10_000, "the inbox socket's hello");
    const held: (() => Promise<void>)[] = [];
    let holding = true;
    await page.route(`**/api/tasks/${taskId}/runs`, async (route) => {
      if (!holding) return route.continue();
      const response = await route.fetch();
      held.push(() => route.fulfill({ response }));
    });
    await page.locator(`a[href="/app/tasks/${taskId}"]`).first().click();
    await eventually(async () => held.length > 0, 10_000, "the runs list asked for");
    const started = await person.post(`/api/tasks/${taskId}/run`);
    expect(started.status).toBe(201);
    const runId = started.body.run_id as string;
    await eventually(async () => frames.some((f) => f.includes('"task_run"') && f.includes(runId)), 10_000, "the run's frame at the page");
    holding = false;
    for (const release of held) await release();
    await page.locator(`#run-${runId}`).waitFor();
    await page.unroute(`**/api/tasks/${taskId}/runs`);
  }, T);

  test("at 375 px the task pages do not scroll sideways", async () => {
    const phone = await browser.newContext({ viewport: PHONE, storageState: await context.storageState() });
    const p = await phone.newPage();
    for (const [path, name, marker] of [
      ["/app/tasks", "tasks", "Evening digest"],
      [`/app/tasks/${taskId}`, "task", "Runs"],
      [`/app/tasks/new?agent=${created.id}`, "task-form", "Cron expression"],
      [`/app/agents/${created.id}/tasks`, "agent-tasks", "On push"],
    ] as const) {
      await visit(p, server.url, path); // the first loads the app, the others open inside it
      await p.getByText(marker).first().waitFor();
      await Bun.sleep(300);
      expect({ path, overflow: await horizontalOverflow(p) }).toEqual({ path, overflow: 0 });
      expect({ path, unnamed: await unnamedControls(p) }).toEqual({ path, unnamed: [] });
      await shot(p, `${name}-phone`);
    }
    await phone.close();
  }, T);

  test("delete a task after a confirmation", async () => {
    await visit(page, server.url, `/app/tasks/${taskId}`);
    await page.getByRole("button", { name: "Delete task" }).click();
    await page.getByRole("button", { name: "Yes, delete" }).click();
    await page.getByRole("article", { name: "Task: On push" }).waitFor();
    expect((await person.get(`/api/tasks/${taskId}`)).status).toBe(404);
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
  }, T);
});
