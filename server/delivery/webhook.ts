// One outbound webhook attempt: POST of the event JSON to the agent's
// webhook_url with the X-Nod-* headers and signature, and what went wrong if
// it failed (the reason becomes the next attempt's X-Nod-Retry-Reason).
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { randomHex } from "../lib/ids.ts";
import { signWebhook } from "../lib/secrets.ts";
import { isPrivateAddress, privateDestination, resolver } from "../lib/private-address.ts";

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
