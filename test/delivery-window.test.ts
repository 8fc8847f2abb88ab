// The webhook delivery window (API.md): after the three documented attempts,
// nod keeps trying with growing gaps until the event is --webhook-retry-window
// old; 0 keeps the three attempts only. An event is undelivered only once the
// window has passed.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { eventually, owner, startTestServer, tempDir } from "./helpers.ts";
import { serveConfig } from "../server/cli/serve.ts";
import { UsageError } from "../server/cli/args.ts";
import type { Config } from "../server/config.ts";
import { webhookReceiver } from "./ws-helpers.ts";
import { DOCUMENTED_ATTEMPTS, MAX_GAP_MS, nextAttemptAt } from "../server/delivery/retry-policy.ts";

setDefaultTimeout(60_000); // retries over a few seconds: a hang guard, never a time check

describe("retry policy", () => {
  const p = { baseMs: 2000, windowMs: 24 * 3_600_000 };
  test("the documented attempts: +base, +4·base; then growing gaps, at most an hour apart, until the window closes", () => {
    expect(nextAttemptAt(p, 1, 0, 0)).toBe(2000);
    expect(nextAttemptAt(p, 2, 0, 0)).toBe(8000);
    expect(nextAttemptAt(p, 3, 0, 0)).toBe(32_000);
    expect(nextAttemptAt(p, 4, 0, 0)).toBe(128_000);
    expect(nextAttemptAt(p, 12, 0, 0)).toBe(MAX_GAP_MS);
    // the last attempt falls on the window's end, then nod gives up
    const end = p.windowMs;
    expect(nextAttemptAt(p, 20, 0, end - 60_000)).toBe(end);
    expect(nextAttemptAt(p, 21, 0, end)).toBeNull();
  });
  test("a window of 0 keeps the three attempts only; a final failure is never retried", () => {
    const three = { baseMs: 2000, windowMs: 0 };
    expect(nextAttemptAt(three, 1, 0, 0)).toBe(2000);
    expect(nextAttemptAt(three, 2, 0, 0)).toBe(8000);
    expect(nextAttemptAt(three, DOCUMENTED_ATTEMPTS, 0, 0)).toBeNull();
    expect(nextAttemptAt(p, 1, 0, 0, true)).toBeNull();
  });
});

describe("a receiver that is down for longer than the three attempts", () => {
  test("gets the event when it comes back inside the window, with the retry count going on", async () => {
    const server = await startTestServer({ webhookRetryBaseMs: 20, webhookRetryWindowMs: 60_000 });
    const person = await owner(server);
    const hook = await webhookReceiver();
    hook.responses.push(503, 503, 503, 503); // down for four attempts
    const a = await person.createAgent({ name: "Flaky", webhook_url: hook.url });
    const sent = await person.post(`/api/agents/${a.id}/messages`, { text: "are you back?" });
    const got = await hook.waitFor(5, 15_000);
    expect(got.map((r) => r.headers["x-nod-retry-num"])).toEqual(["0", "1", "2", "3", "4"]);
    expect(got.map((r) => r.headers["x-nod-retry-reason"])).toEqual(["first_attempt", "http_503", "http_503", "http_503", "http_503"]);
    expect(got[4]!.json.message_id).toBe(sent.body.message_id);
    await eventually(async () => {
      const rows = (await person.get(`/api/deliveries?status=delivered&agent_id=${a.id}`)).body as { attempts: number }[];
      return rows[0]?.attempts === 5;
    }, 5000, "the event delivered on its fifth attempt");
  });

  test("is given up on only when the window has passed: then undelivered, and replayed later", async () => {
    const server = await startTestServer({ webhookRetryBaseMs: 20, webhookRetryWindowMs: 1500 });
    const person = await owner(server);
    const hook = await webhookReceiver();
    for (let i = 0; i < 50; i++) hook.responses.push(500);
    const a = await person.createAgent({ name: "Gone", webhook_url: hook.url });
    await person.post(`/api/agents/${a.id}/messages`, { text: "anyone?" });
    await eventually(async () => {
      const rows = (await person.get(`/api/deliveries?agent_id=${a.id}`)).body as { status: string }[];
      return rows[0]?.status === "undelivered";
    }, 15_000, "undelivered once the window passed");
    const rows = (await person.get(`/api/deliveries?agent_id=${a.id}`)).body as { attempts: number; created_at: string }[];
    expect(rows[0]!.attempts).toBeGreaterThan(DOCUMENTED_ATTEMPTS); // it went on past the three
    const last = hook.received.at(-1)!;
    expect(last.at - Date.parse(rows[0]!.created_at)).toBeGreaterThanOrEqual(1500 - 50); // the last one as the window closed
  });
});

describe("--webhook-retry-window", () => {
  test("defaults to 24h; takes 0 (three attempts only) and durations, by flag or NOD_WEBHOOK_RETRY_WINDOW; anything else is bad usage", () => {
    const cfg = (argv: string[]) => serveConfig(["--data", tempDir(), ...argv]) as Config;
    expect(cfg([]).webhookRetryWindowMs).toBe(24 * 3_600_000);
    expect(cfg(["--webhook-retry-window", "0"]).webhookRetryWindowMs).toBe(0);
    expect(cfg(["--webhook-retry-window", "2h"]).webhookRetryWindowMs).toBe(7_200_000);
    process.env.NOD_WEBHOOK_RETRY_WINDOW = "30m";
    try {
      expect(cfg([]).webhookRetryWindowMs).toBe(1_800_000);
    } finally {
      delete process.env.NOD_WEBHOOK_RETRY_WINDOW;
    }
    expect(() => cfg(["--webhook-retry-window", "forever"])).toThrow(UsageError);
  });
});
