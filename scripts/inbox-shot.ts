#!/usr/bin/env bun
// Takes docs/inbox.png, the picture at the top of the README: the Requests
// page at 1280 px with a permission request from Claude Code, a question and
// a choice waiting for an answer. A real nod on a throwaway data directory,
// real agent events, Debian's headless Chromium. Run it again when the inbox
// changes:
//
//   bun run scripts/inbox-shot.ts
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { startServer } from "../server/app.ts";
import { makeConfig } from "../server/config.ts";
import { Logger } from "../server/lib/log.ts";

const OUT = path.resolve(import.meta.dir, "../docs/inbox.png");
const dir = mkdtempSync(path.join(tmpdir(), "nod-shot-"));
const nod = await startServer(makeConfig({ dataDir: dir, port: 0, host: "127.0.0.1", logLevel: "error" }), { log: new Logger("error") });
const base = nod.url;

async function call(method: string, p: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(base + p, { method, headers: { "content-type": "application/json", origin: base, ...headers }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
  return { body: (await res.json().catch(() => ({}))) as any, cookie: res.headers.get("set-cookie")?.split(";")[0] ?? "" };
}

try {
  const { cookie } = await call("POST", "/api/auth/setup", { username: "alice", password: "correct horse battery" });
  const agent = (await call("POST", "/api/agents", { name: "Deploy Bot" }, { cookie })).body;
  const as = { "x-nod-agent-id": agent.id, "x-nod-secret": agent.secret };
  const ask = (body: Record<string, unknown>) => call("POST", "/api/agent/events", { type: "decision", ...body }, as);
  await ask({
    kind: "permission",
    title: "Allow: Bash(npm install stripe)",
    description: "From the Claude Code hook: the agent wants to run a command.",
    allows_always: true,
    always_allow_options: [
      { pattern: "Bash(npm install stripe)", label: "Just this" },
      { pattern: "Bash(npm install *)", label: "All npm installs" },
    ],
  });
  await ask({ kind: "question", title: "When should I run the migration?", description: "" });
  await ask({ kind: "choice", title: "Which environment?", description: "Pick one.", options: ["Staging", "Production"] });

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: "light" });
  const [name, value] = cookie.split("=") as [string, string];
  await context.addCookies([{ name, value, url: base }]);
  const page = await context.newPage();
  await page.goto(base + "/app/requests");
  await page.getByRole("article", { name: "Request: Which environment?" }).waitFor();
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await page.screenshot({ path: OUT, fullPage: true });
  await browser.close();
  console.log(`wrote ${path.relative(process.cwd(), OUT)}`);
} finally {
  await nod.stop();
  rmSync(dir, { recursive: true, force: true });
}
