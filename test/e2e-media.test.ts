// nod's own images load from the origin the inbox is open at, even when the
// public URL names another host (the default says localhost; a phone on the
// LAN opens the inbox by the server's address).
import { expect, setDefaultTimeout, test } from "bun:test";
import { PNG_1x1, startTestServer, withAgent } from "./helpers.ts";
import { launch, openPage, BROWSER_TEST_MS } from "./e2e-helpers.ts";

setDefaultTimeout(BROWSER_TEST_MS); // a hang guard, never a time check

test("an agent's image shows when the public URL is another host", async () => {
  const server = await startTestServer({ publicUrl: "http://nod.invalid:9" });
  const { agent, created } = await withAgent(server, { name: "Camera" });
  const sent = await agent.event({ type: "message", text: "snapshot", image_base64: PNG_1x1 });
  expect(sent.status).toBe(200);
  const browser = await launch();
  const { page } = await openPage(browser);
  await page.goto(`${server.url}/app/agents/${created.id}`);
  await page.getByLabel("Username").fill("alice");
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Sign in" }).click();
  const img = page.getByRole("img", { name: "Image from Camera" });
  await img.waitFor();
  expect(await img.getAttribute("src")).toMatch(/^\/media\/[0-9a-f]{32}\.png$/);
  await page.waitForFunction(() => [...document.images].some((i) => i.complete && i.naturalWidth === 1));
}, 60_000);
