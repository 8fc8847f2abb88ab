// The installable app and Web Push in real Chromium: the manifest and service
// worker make /app installable (CDP Page.getInstallabilityErrors is empty);
// pushes nod sent to the stand-in push service, decrypted there, are handed
// to the real service worker with CDP ServiceWorker.deliverPushMessage; the
// notification's buttons answer through the worker; Settings → Notifications
// lists, renames, removes and tests devices; offline, /app says so.
//
// Chromium cannot subscribe to a push service of our choosing: its
// PushManager always registers with Google's FCM, which is out of reach here
// (subscribe() never settles). The settings page's "Enable on this device" is
// therefore driven with PushManager.subscribe answering a stand-in
// subscription; everything after that (nod's API, the list) is real.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { startTestServer, owner, AgentClient, eventually, tempDir } from "./helpers.ts";
import { ARTIFACTS, PHONE, freePort, shot, unnamedControls, BROWSER_TEST_MS, STEP_GUARD_MS } from "./e2e-helpers.ts";
import { standInPushService } from "./push-service.ts";

setDefaultTimeout(BROWSER_TEST_MS); // a hang guard, never a time check

const T = BROWSER_TEST_MS;
/** NOD_DOCS_SHOTS=1 also refreshes docs/push-*.png (otherwise every run would change them). */
const DOCS = process.env.NOD_DOCS_SHOTS === "1" ? path.resolve(import.meta.dir, "..", "docs") : ARTIFACTS;

/** A fresh profile: push, notifications and installability are off in incognito-like contexts. */
async function launchProfile(): Promise<BrowserContext> {
  const context = await chromium.launchPersistentContext(tempDir("nod-chromium-"), {
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: PHONE,
  });
  afterAll(() => context.close());
  return context;
}

/** The notifications the service worker shows now, as the page reads them. */
const notifications = (page: Page, tag?: string) =>
  page.evaluate(async (tag) => {
    const reg = await navigator.serviceWorker.ready;
    return (await reg.getNotifications(tag ? { tag } : undefined)).map((n) => ({ title: n.title, body: n.body, tag: n.tag, actions: (n as any).actions, data: n.data }));
  }, tag);

describe("the installable app and push in Chromium", async () => {
  const port = freePort();
  const server = await startTestServer({ port, publicUrl: `http://127.0.0.1:${port}` });
  const alice = await owner(server);
  const key = (await alice.get("/api/push/key")).body.public_key as string;
  const push = await standInPushService(() => key);
  const created = await alice.createAgent({ name: "Deploy Bot" });
  const agent = new AgentClient(server.url, created.id, created.secret);
  // nod pushes to this stand-in device; what it decrypts is handed to the browser.
  await alice.post("/api/push/subscriptions", { ...push.device("relay"), name: "Relay" });

  const context = await launchProfile();
  await context.grantPermissions(["notifications"], { origin: server.url });
  const [cookieName, cookieValue] = alice.cookie.split("=") as [string, string];
  await context.addCookies([{ name: cookieName, value: cookieValue, url: server.url }]);
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(STEP_GUARD_MS);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const cdp = await context.newCDPSession(page);
  const registrations = new Map<string, string>(); // scope URL -> registration id
  cdp.on("ServiceWorker.workerRegistrationUpdated" as any, (e: any) => {
    for (const r of e.registrations) if (!r.isDeleted) registrations.set(r.scopeURL, r.registrationId);
  });

  /** Hands a payload nod sent (decrypted by the stand-in) to the real service worker. */
  async function deliver(payload: unknown) {
    const registrationId = await eventually(() => registrations.get(`${server.url}/app`), 5000, "the service worker's registration");
    await cdp.send("ServiceWorker.deliverPushMessage" as any, { origin: server.url, registrationId, data: JSON.stringify(payload) });
  }
  /**
   * Hands the payload to the worker until check() sees what it shows. The
   * DevTools protocol now and then loses a push sent to a worker (seen once in
   * CI: the push reached the stand-in, no notification ever showed); another
   * shows the same notification under the same tag, so sending it again
   * changes nothing else.
   */
  async function deliverUntil<T>(payload: unknown, check: () => Promise<T>, what: string): Promise<NonNullable<T>> {
    return await eventually(
      async () => {
        await deliver(payload);
        for (let i = 0; i < 30; i++) {
          const v = await check();
          if (v) return v;
          await Bun.sleep(100);
        }
        return null;
      },
      undefined,
      what,
    );
  }
  /** The payload nod pushed for this predicate, as the stand-in push service decrypted it. */
  const pushed = async (pred: (p: any) => boolean) => (await push.until((all) => all.find((d) => d.device === "relay" && pred(d.payload)))).payload;
  /** Runs the worker's own notificationclick path for the notification with this tag. */
  const tap = (tag: string, action = "") =>
    context.serviceWorkers()[0]!.evaluate(
      async ([tag, action]) => {
        const [n] = await (self as any).registration.getNotifications({ tag });
        if (!n) throw new Error(`no notification tagged ${tag}`);
        await (self as any).nodNotificationClick(n, action);
      },
      [tag, action] as const,
    );

  test("installable: a manifest fetched without cookies, icons, a service worker in charge of /app", async () => {
    const manifest = await fetch(`${server.url}/app/manifest.webmanifest`); // no cookie
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get("content-type")).toBe("application/manifest+json");
    const m = await manifest.json();
    expect(m).toMatchObject({ name: "nod", short_name: "nod", start_url: "/app", display: "standalone" });
    expect(m.icons.map((i: any) => `${i.sizes} ${i.purpose}`)).toEqual(["192x192 any", "512x512 any", "192x192 maskable", "512x512 maskable"]);
    for (const i of m.icons) expect((await fetch(server.url + i.src)).headers.get("content-type")).toBe("image/png");

    await page.goto(`${server.url}/app`);
    await page.getByRole("link", { name: /Deploy Bot/ }).waitFor();
    expect(await page.evaluate(() => navigator.serviceWorker.ready.then((r) => r.scope))).toBe(`${server.url}/app`);
    await page.reload();
    await eventually(() => page.evaluate(() => Boolean(navigator.serviceWorker.controller)), 5000, "the worker controls /app");
    expect(await cdp.send("Page.getInstallabilityErrors" as any)).toEqual({ installabilityErrors: [] });
    const got: any = await cdp.send("Page.getAppManifest" as any);
    expect(got.url).toBe(`${server.url}/app/manifest.webmanifest`);
    expect(got.errors).toEqual([]);
    await cdp.send("ServiceWorker.enable" as any);
  }, T);

  let approval = "";
  test("a request nod pushed shows as a notification with Approve and Reject", async () => {
    approval = (await agent.event({ type: "decision", kind: "approval", title: "Deploy **v2** to production?", description: "Ships `v2.0.1` to [prod](https://prod.example)." })).body.decision_id;
    const [n] = await deliverUntil(
      await pushed((p) => p.decision_id === approval),
      async () => {
        const list = await notifications(page, approval);
        return list.length ? list : null;
      },
      "the notification",
    );
    expect(n).toMatchObject({
      title: "Deploy Bot: Deploy v2 to production?",
      body: "Ships v2.0.1 to prod.",
      tag: approval,
      actions: [
        { action: "approve", title: "Approve" },
        { action: "reject", title: "Reject" },
      ],
    });
    // Headless Chromium draws no system notification: this shows what the worker put in it.
    const preview = await context.newPage();
    await preview.setViewportSize({ width: 420, height: 200 });
    await preview.setContent(`<body style="margin:0;background:#dfe3ea;font:15px system-ui,sans-serif">
      <div style="margin:16px;background:#fff;border-radius:14px;padding:12px 14px;box-shadow:0 1px 4px #0003">
        <div style="display:flex;gap:10px;align-items:center;color:#555;font-size:12px"><img src="${server.url}/app/icons/icon-192.png" width="18" height="18" style="border-radius:4px"> nod · 127.0.0.1</div>
        <div style="display:flex;gap:12px;margin-top:6px"><div style="flex:1"><b id="t"></b><div id="b" style="color:#333;margin-top:2px"></div></div></div>
        <div id="a" style="display:flex;gap:22px;margin-top:10px;color:#2f62d8;font-weight:600"></div>
      </div></body>`);
    await preview.evaluate((n) => {
      document.getElementById("t")!.textContent = n.title;
      document.getElementById("b")!.textContent = n.body;
      for (const a of n.actions) document.getElementById("a")!.appendChild(Object.assign(document.createElement("span"), { textContent: a.title }));
    }, n!);
    await preview.screenshot({ path: path.join(DOCS, "push-notification.png") });
    await preview.close();
  }, T);

  test("Approve on the notification answers without opening the app; the answer's push replaces it", async () => {
    const pagesBefore = context.pages().length;
    await tap(approval, "approve");
    const d = (await alice.get(`/api/decisions/${approval}`)).body;
    expect(d).toMatchObject({ status: "approved", resolved_by: "alice" });
    expect(context.pages().length).toBe(pagesBefore);
    const [local] = await notifications(page, approval);
    expect(local).toMatchObject({ body: "Approved by alice", actions: [] });
    const resolved = await pushed((p) => p.decision_id === approval && p.resolved);
    expect(resolved).toMatchObject({ tag: approval, body: "Approved by alice", badge: 0 });
    await deliverUntil(resolved, async () => (await notifications(page, approval))[0]?.data?.type === "resolved", "the replacing notification");
    const all = await notifications(page, approval);
    expect(all.map((n) => n.body)).toEqual(["Approved by alice"]); // replaced, not left behind
  }, T);

  test("an answer that fails says so, and tapping that opens the request", async () => {
    const id = (await agent.event({ type: "decision", kind: "permission", title: "Run rm -rf build/?", description: "Bash" })).body.decision_id;
    await deliverUntil(await pushed((p) => p.decision_id === id), async () => (await notifications(page, id)).length, "the notification");
    expect((await alice.post(`/api/decisions/${id}/respond`, { status: "rejected" })).status).toBe(200); // answered elsewhere first
    await tap(id, "allow");
    const [failed] = await notifications(page, id);
    expect(failed!.title).toBe("Could not answer: Deploy Bot: Run rm -rf build/?");
    expect(failed!.body).toBe("It was already answered. Tap to open the request.");
    await tap(id);
    await page.waitForURL(`${server.url}/app/requests/${id}`);
    await page.getByRole("article", { name: "Request: Run rm -rf build/?" }).getByText("Rejected by alice").waitFor();
    await shot(page, "push-request-page");
  }, T);

  test("tapping a message notification opens its conversation", async () => {
    const m = await agent.event({ type: "message", text: "Build **green**" });
    const payload = await pushed((p) => p.message_id === m.body.message_id);
    expect(payload).toMatchObject({ title: "Deploy Bot", body: "Build green", tag: m.body.conversation_id });
    await deliverUntil(payload, async () => (await notifications(page, payload.tag)).length, "the notification");
    await tap(payload.tag); // the page is on a request: the worker tells it where to go
    await page.waitForURL(`${server.url}${payload.url}`);
    await page.getByText("Build green").waitFor();
  }, T);

  test("Settings → Notifications: enable this device, rename, test, choose what to hear, remove", async () => {
    const mine = push.device("this-browser");
    await page.addInitScript((sub) => {
      // Chromium's own PushManager would register with FCM (unreachable here): answer with the stand-in's subscription.
      let current: any = null;
      const fake = { endpoint: sub.endpoint, options: { applicationServerKey: null }, toJSON: () => ({ endpoint: sub.endpoint, expirationTime: null, keys: sub.keys }), unsubscribe: async () => ((current = null), true) };
      PushManager.prototype.subscribe = async function () {
        current = fake;
        return fake as any;
      };
      PushManager.prototype.getSubscription = async function () {
        return current;
      };
    }, mine);
    await page.goto(`${server.url}/app/settings/notifications`);
    await page.getByRole("heading", { name: "Notifications" }).waitFor();
    await page.getByRole("listitem").filter({ hasText: "Relay" }).waitFor();
    await page.getByRole("button", { name: "Enable on this device" }).click();
    await page.getByText("Notifications are on for this device.").waitFor();
    const item = page.getByRole("listitem").filter({ hasText: "This device" });
    await item.getByText("Chrome on Linux").waitFor();

    await page.getByRole("button", { name: "Rename Chrome on Linux" }).click();
    await page.getByLabel("Name for Chrome on Linux").fill("Work phone");
    await page.getByRole("button", { name: "Save" }).click();
    await item.getByText("Work phone").waitFor();
    const devices = (await alice.get("/api/push/subscriptions")).body as any[];
    expect(devices.map((d) => d.name).sort()).toEqual(["Relay", "Work phone"]);

    await page.getByRole("button", { name: "Send a test" }).click();
    await page.getByText("Test sent to your 2 devices.").waitFor();
    expect((await push.until(() => push.shown("this-browser")[0])).type).toBe("test");

    await page.getByLabel("Messages from agents").uncheck();
    await eventually(async () => (await alice.get("/api/push/settings")).body.messages === false, 5000, "messages off");
    await page.getByRole("group", { name: "Messages and failed runs from" }).getByLabel("Deploy Bot").uncheck();
    await eventually(async () => (await alice.get("/api/push/settings")).body.muted_agents[0] === created.id, 5000, "agent muted");
    await page.getByLabel("Messages from agents").check();
    await eventually(async () => (await alice.get("/api/push/settings")).body.messages === true, 5000, "messages on");

    expect(await unnamedControls(page)).toEqual([]);
    await shot(page, "push-settings");
    if (DOCS !== ARTIFACTS) await page.screenshot({ path: path.join(DOCS, "push-settings.png"), fullPage: true });

    await page.getByRole("button", { name: "Remove Relay" }).click();
    await page.getByRole("listitem").filter({ hasText: "Relay" }).waitFor({ state: "detached" });
    expect(((await alice.get("/api/push/subscriptions")).body as any[]).map((d) => d.name)).toEqual(["Work phone"]);
    await page.getByRole("button", { name: "Turn off on this device" }).click();
    await page.getByText("Notifications are off for this device.").waitFor();
    expect((await alice.get("/api/push/subscriptions")).body).toEqual([]);
  }, T);

  test("offline, the installed app opens to a clear offline state, and comes back", async () => {
    await context.setOffline(true);
    await page.goto(`${server.url}/app/requests`);
    await page.getByRole("heading", { name: "You're offline" }).waitFor();
    await shot(page, "push-offline");
    await context.setOffline(false);
    await page.getByRole("button", { name: "Try again" }).click();
    await page.getByRole("button", { name: "Pending" }).waitFor();
    expect(errors).toEqual([]);
    expect(push.errors).toEqual([]);
  }, T);
});
