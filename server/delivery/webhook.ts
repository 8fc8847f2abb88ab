// One outbound webhook attempt: POST of the event JSON to the agent's
// webhook_url with the X-Nod-* headers and signature, and what went wrong if
// it failed (the reason becomes the next attempt's X-Nod-Retry-Reason).
import { lookup } from "node:dns/promises";
import http from "node:http";
import https from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { randomHex } from "../lib/ids.ts";
import { signWebhook } from "../lib/secrets.ts";

export type RetryReason = "first_attempt" | "timeout" | "connection_error" | `http_${number}`;

export interface Attempt {
  url: string;
  webhookSecret: string;
  eventId: string;
  body: string; // the outbox payload, sent byte for byte
  retryNum: number; // 0, 1, 2
  retryReason: RetryReason;
  timeoutMs: number;
  blockPrivate: boolean;
  signal: AbortSignal; // the dispatcher's stop signal
  giveWay?: AbortSignal; // aborted when this POST must free its slot for a waiting one (slots.ts)
}

export type AttemptResult =
  | { ok: true; status: number; deliveryId: string }
  | { ok: false; reason: Exclude<RetryReason, "first_attempt">; error: string; final: boolean; deliveryId: string }
  | { ok: false; reason: "stopped" };

export function webhookHeaders(a: Pick<Attempt, "webhookSecret" | "eventId" | "body" | "retryNum" | "retryReason">, deliveryId: string, timestamp: string) {
  return {
    "content-type": "application/json",
    "user-agent": "nod-webhook/1",
    "x-nod-event-id": a.eventId,
    "x-nod-delivery-id": deliveryId,
    "x-nod-timestamp": timestamp,
    "x-nod-retry-num": String(a.retryNum),
    "x-nod-retry-reason": a.retryReason,
    "x-nod-signature": signWebhook(a.webhookSecret, timestamp, a.body),
  };
}

export async function attemptWebhook(a: Attempt): Promise<AttemptResult> {
  const deliveryId = "dlv_" + randomHex(8);
  if (a.blockPrivate) {
    const blocked = await privateDestination(a.url);
    if (a.signal.aborted) return { ok: false, reason: "stopped" };
    if (blocked) return { ok: false, reason: "connection_error", error: blocked, final: true, deliveryId };
  }
  const sentAt = Date.now();
  const timestamp = String(Math.floor(sentAt / 1000));
  const timeout = AbortSignal.timeout(a.timeoutMs);
  const headers = webhookHeaders(a, deliveryId, timestamp);
  const signal = AbortSignal.any(a.giveWay ? [a.signal, timeout, a.giveWay] : [a.signal, timeout]);
  try {
    let res: { status: number; statusText: string };
    if (a.blockPrivate) {
      // Connect only to the addresses checked here: a name that resolved to a
      // public address a moment ago cannot rebind to a private one for the POST.
      res = await postPinned(a.url, headers, a.body, signal);
    } else {
      const r = await fetch(a.url, {
        method: "POST",
        headers,
        body: a.body,
        redirect: "manual", // a redirect is a failure: following it could leave the allowed network
        signal,
      });
      void r.body?.cancel().catch(() => {});
      res = r;
    }
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status, deliveryId };
    return { ok: false, reason: `http_${res.status}`, error: `HTTP ${res.status} ${res.statusText}`.trim(), final: false, deliveryId };
  } catch (e) {
    if (a.signal.aborted) return { ok: false, reason: "stopped" };
    if (timeout.aborted) return { ok: false, reason: "timeout", error: `no answer within ${Math.round(a.timeoutMs / 1000)} s`, final: false, deliveryId };
    if (a.giveWay?.aborted)
      return { ok: false, reason: "timeout", error: `no answer after ${Date.now() - sentAt} ms while other webhooks waited: gave way`, final: false, deliveryId };
    if (e instanceof BlockedAddress) return { ok: false, reason: "connection_error", error: e.message, final: true, deliveryId };
    const err = e as { code?: string; message?: string };
    return { ok: false, reason: "connection_error", error: [err.code, err.message].filter(Boolean).join(": ") || String(e), final: false, deliveryId };
  }
}

/** The X-Nod-Retry-Reason for the attempt after a failure recorded as last_error. */
export function retryReasonFrom(lastError: string | null): RetryReason {
  const m = /^(timeout|connection_error|http_\d{3})\b/.exec(lastError ?? "");
  return (m?.[1] as RetryReason) ?? "connection_error";
}

/** How webhook host names are resolved (tests replace it to play a rebinding DNS server). */
export const resolver = {
  lookup: async (host: string): Promise<{ address: string; family: number }[]> => lookup(host, { all: true, verbatim: true }),
};

class BlockedAddress extends Error {}

/** node:net's lookup for the POST itself: every address is checked again, a private one fails the connection. */
const checkedLookup: LookupFunction = (hostname, options, callback) => {
  resolver.lookup(hostname).then(
    (addrs) => {
      const bad = addrs.find((r) => isPrivateAddress(r.address));
      if (bad) return callback(new BlockedAddress(`blocked: ${hostname} resolves to non-public address ${bad.address} (--webhook-block-private)`), "", 0);
      if (!addrs.length) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" }), "", 0);
      if (options.all) (callback as unknown as (e: null, a: typeof addrs) => void)(null, addrs);
      else callback(null, addrs[0]!.address, addrs[0]!.family);
    },
    (e) => callback(e as NodeJS.ErrnoException, "", 0),
  );
};

/** The POST over node:http(s) with the checked lookup; redirects are not followed. */
function postPinned(url: string, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<{ status: number; statusText: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === "https:" ? https : http;
    const req = mod.request(
      u,
      { method: "POST", headers: { ...headers, "content-length": String(Buffer.byteLength(body)) }, lookup: checkedLookup, signal, agent: false },
      (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? "" });
      },
    );
    req.on("error", (e) => reject(signal.aborted ? signal.reason : e));
    req.end(body);
  });
}

/**
 * With --webhook-block-private: a description of why the URL's host is not
 * allowed (it is, or resolves to, a loopback, private, link-local or otherwise
 * non-public address), or null when every address it resolves to is public.
 */
export async function privateDestination(url: string): Promise<string | null> {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return "blocked: webhook_url is not a valid URL";
  }
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await resolver.lookup(host)).map((r) => r.address);
    } catch (e) {
      return null; // unresolvable: the POST itself fails with a connection error
    }
  }
  const bad = addresses.find(isPrivateAddress);
  return bad ? `blocked: ${host} resolves to non-public address ${bad} (--webhook-block-private)` : null;
}

export function isPrivateAddress(addr: string): boolean {
  const v = isIP(addr);
  if (v === 4) return privateV4(addr);
  if (v !== 6) return true;
  const a = addr.toLowerCase();
  const mapped = /^(?:0{0,4}:){0,4}:?(?:0{0,4}:)?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a) ?? /^::(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) return privateV4(mapped[1]!);
  const words = expandV6(a);
  if (!words) return true;
  const w0 = words[0]!;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) return privateV4(v4(words[6]!, words[7]!)); // ::ffff:a.b.c.d
  if (words.slice(0, 6).every((w) => w === 0)) return true; // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d
  if (words.slice(0, 4).every((w) => w === 0) && words[4] === 0xffff && words[5] === 0) return true; // ::ffff:0:a.b.c.d (IPv4-translated)
  if ((w0 & 0xfe00) === 0xfc00) return true; // fc00::/7 unique local
  if ((w0 & 0xffc0) === 0xfe80) return true; // fe80::/10 link-local
  if ((w0 & 0xffc0) === 0xfec0) return true; // fec0::/10 site-local (deprecated)
  if ((w0 & 0xff00) === 0xff00) return true; // multicast
  if (w0 === 0x64 && words[1] === 0xff9b) return true; // 64:ff9b::/96 NAT64 may reach private v4
  if (w0 === 0x2002) return privateV4(v4(words[1]!, words[2]!)); // 6to4
  return false;
}

function privateV4(addr: string): boolean {
  const [a, b] = addr.split(".").map(Number) as [number, number];
  return (
    a === 0 || // this network
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) || // 192.0.0.0/24 protocol assignments (and 192.0.2.0 docs, harmless)
    (a === 198 && (b === 18 || b === 19)) || // benchmarking
    a >= 224 // multicast, reserved, broadcast
  );
}

function expandV6(a: string): number[] | null {
  const [head, tail] = a.split("::") as [string, string | undefined];
  if (a.split("::").length > 2) return null;
  const parse = (s: string) => (s ? s.split(":").map((x) => parseInt(x, 16)) : []);
  const h = parse(head);
  const t = tail === undefined ? [] : parse(tail);
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  const words = [...h, ...Array(Math.max(0, fill)).fill(0), ...t];
  return words.length === 8 && words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff) ? words : null;
}
