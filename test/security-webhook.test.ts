// Outbound webhooks and SSRF: with --webhook-block-private no request may reach
// a private address, whatever form the address takes, through a redirect, or
// through a DNS answer that changes between the check and the POST (rebinding).
import { afterEach, describe, expect, test } from "bun:test";
import { attemptWebhook } from "../server/delivery/webhook.ts";
import { isPrivateAddress, privateDestination, resolver } from "../server/lib/private-address.ts";
import { webhookReceiver } from "./ws-helpers.ts";

const attempt = (url: string, blockPrivate: boolean) =>
  attemptWebhook({
    url,
    webhookSecret: "whsec_test",
    eventId: "evt_test",
    body: '{"type":"test"}',
    retryNum: 0,
    retryReason: "first_attempt",
    timeoutMs: 2000,
    blockPrivate,
    signal: new AbortController().signal,
  });

const realLookup = resolver.lookup;
afterEach(() => void (resolver.lookup = realLookup));

describe("--webhook-block-private", () => {
  test("a name that answers public for the check and private for the POST (DNS rebinding) is blocked", async () => {
    const hook = await webhookReceiver();
    let calls = 0;
    resolver.lookup = async () => (calls++ === 0 ? [{ address: "93.184.216.34", family: 4 }] : [{ address: "127.0.0.1", family: 4 }]);
    const r = await attempt(hook.url.replace("127.0.0.1", "localhost"), true);
    expect(r).toMatchObject({ ok: false, reason: "connection_error", final: true, error: expect.stringContaining("blocked: localhost resolves to non-public address 127.0.0.1") });
    expect(calls).toBeGreaterThanOrEqual(2);
    await hook.expectNone(50);
  });

  test("loopback and private addresses in every spelling are refused before any request", async () => {
    const hook = await webhookReceiver();
    const port = new URL(hook.url).port;
    for (const host of ["127.0.0.1", "2130706433", "0x7f.1", "017700000001", "127.1", "0", "0.0.0.0", "[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::127.0.0.1]", "[::ffff:0:127.0.0.1]", "[fd00::1]", "[fe80::1]", "[64:ff9b::7f00:1]", "10.1.2.3", "169.254.169.254", "[::]"]) {
      const url = `http://${host}:${port}/hook`;
      expect({ host, blocked: await privateDestination(url) }).toEqual({ host, blocked: expect.stringContaining("blocked") });
      expect({ host, r: await attempt(url, true) }).toMatchObject({ host, r: { ok: false, final: true } });
    }
    await hook.expectNone(50);
    expect(isPrivateAddress("93.184.216.34")).toBe(false);
    expect(isPrivateAddress("2606:2800:220:1:248:1893:25c8:1946")).toBe(false);
  });

  test("redirects are never followed (a public URL cannot bounce the POST to a private one)", async () => {
    const target = await webhookReceiver();
    const bouncer = await webhookReceiver();
    bouncer.responses.push(() => new Response(null, { status: 307, headers: { location: target.url } }));
    const r = await attempt(bouncer.url, false);
    expect(r).toMatchObject({ ok: false, reason: "http_307" });
    await target.expectNone(50);
  });
});
