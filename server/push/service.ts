// Web Push for people: their devices (push subscriptions) and what each
// person wants to be told. What nod tells them is in notices.ts; the sender
// (sender.ts) encrypts and posts it after the commit.
import { and, eq, sql } from "drizzle-orm";
import { createECDH } from "node:crypto";
import type { Db } from "../db/index.ts";
import type { UnitOfWork } from "../db/unit-of-work.ts";
import { subscribed } from "./notices.ts";
import { first, only } from "../db/rows.ts";
import { pushSettings, pushSubscriptions } from "../db/tables.ts";
import { timeId } from "../lib/ids.ts";
import { isoMs, toApiTime } from "../lib/time.ts";
import { badRequest, conflict, notFound } from "../lib/errors.ts";
import type { SubscriptionView } from "./model.ts";

export type Subscription = typeof pushSubscriptions.$inferSelect;

/** Devices per person: more is a runaway script, not a person. */
export const MAX_SUBSCRIPTIONS = 50;

export const publicSubscription = (s: Subscription): SubscriptionView => ({
  id: s.id,
  name: s.name,
  endpoint: s.endpoint,
  created_at: toApiTime(s.createdAt),
  updated_at: toApiTime(s.updatedAt),
  last_success_at: toApiTime(s.lastSuccessAt),
  last_error: s.lastError,
});

// ---- subscriptions ----

export interface SubscriptionInput {
  endpoint: string;
  keys: { p256dh: string; auth: string };
  name?: string | null;
}

const LOOPBACK = (host: string) => host === "localhost" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);

function base64urlBytes(field: string, text: string): Buffer {
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(text) && !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw badRequest(`${field}: not base64url`);
  return Buffer.from(text.replace(/=+$/, ""), text.includes("+") || text.includes("/") ? "base64" : "base64url");
}

const checker = createECDH("prime256v1");
checker.generateKeys();

/** Checks a browser PushSubscription: 400 naming the field that is wrong. */
export function checkSubscription(input: SubscriptionInput) {
  let url: URL;
  try {
    url = new URL(input.endpoint);
  } catch {
    throw badRequest("endpoint: not a URL");
  }
  if (url.username || url.password) throw badRequest("endpoint: must not carry credentials");
  if (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK(url.hostname)))
    throw badRequest("endpoint: must be https (http only on a loopback address)");
  const p256dh = base64urlBytes("keys.p256dh", input.keys.p256dh);
  if (p256dh.length !== 65 || p256dh[0] !== 4) throw badRequest("keys.p256dh: must be an uncompressed P-256 public key (65 bytes)");
  try {
    checker.computeSecret(p256dh); // throws unless the point is on the curve
  } catch {
    throw badRequest("keys.p256dh: not a valid P-256 point");
  }
  const auth = base64urlBytes("keys.auth", input.keys.auth);
  if (auth.length !== 16) throw badRequest("keys.auth: must be 16 bytes");
  return { endpoint: url.href, origin: url.origin, p256dh: p256dh.toString("base64url"), auth: auth.toString("base64url") };
}

/** "Chrome on Android", "Safari on iPhone"… a default name people can recognise. */
export function deviceName(userAgent: string | null): string {
  const ua = userAgent ?? "";
  const os = /Android/.test(ua) ? "Android" : /iPhone/.test(ua) ? "iPhone" : /iPad/.test(ua) ? "iPad" : /Mac OS X|Macintosh/.test(ua) ? "Mac" : /Windows/.test(ua) ? "Windows" : /CrOS/.test(ua) ? "ChromeOS" : /Linux/.test(ua) ? "Linux" : "";
  const browser = /Firefox\//.test(ua) ? "Firefox" : /Edg\//.test(ua) ? "Edge" : /SamsungBrowser/.test(ua) ? "Samsung Internet" : /OPR\//.test(ua) ? "Opera" : /Chrom(e|ium)\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : "";
  if (browser && os) return `${browser} on ${os}`;
  return browser || os || "This device";
}

/**
 * Stores a subscription for the person. The same endpoint again updates it;
 * an endpoint another person registered moves to this person (the browser
 * is theirs now) under a new id, so nothing about the other person leaks.
 */
export async function saveSubscription(uow: UnitOfWork, userId: string, input: SubscriptionInput, userAgent: string | null) {
  const db = uow.db;
  const s = checkSubscription(input);
  const now = isoMs();
  const name = input.name?.trim() || null;
  // Called inside a unit of work: a refusal below takes back the delete above it.
  const existing = first(await db.select().from(pushSubscriptions).where(eq(pushSubscriptions.endpoint, s.endpoint)));
  if (existing && existing.userId === userId) {
    const updated = only(
      await db
        .update(pushSubscriptions)
        .set({ p256dh: s.p256dh, auth: s.auth, name: name ?? existing.name, updatedAt: now, lastError: null })
        .where(eq(pushSubscriptions.id, existing.id))
        .returning(),
    );
    return { sub: updated, created: false };
  }
  if (existing) await db.delete(pushSubscriptions).where(eq(pushSubscriptions.id, existing.id));
  const n = only(await db.select({ n: sql<number>`count(*)` }).from(pushSubscriptions).where(eq(pushSubscriptions.userId, userId))).n;
  if (n >= MAX_SUBSCRIPTIONS) throw conflict(`at most ${MAX_SUBSCRIPTIONS} devices per person: remove one first`);
  const sub: Subscription = {
    id: timeId("psub_"),
    userId,
    endpoint: s.endpoint,
    p256dh: s.p256dh,
    auth: s.auth,
    name: name ?? deviceName(userAgent),
    createdAt: now,
    updatedAt: now,
    lastSuccessAt: null,
    lastError: null,
  };
  await db.insert(pushSubscriptions).values(sub);
  subscribed.forget(uow, "any");
  return { sub, created: true };
}

export const listSubscriptions = async (db: Db, userId: string) =>
  await db.select().from(pushSubscriptions).where(eq(pushSubscriptions.userId, userId)).orderBy(pushSubscriptions.id);

/** The person's own subscription, or 404 (another person's id looks exactly like an unknown one). */
export async function getSubscription(db: Db, userId: string, id: string): Promise<Subscription> {
  const s = first(await db.select().from(pushSubscriptions).where(and(eq(pushSubscriptions.id, id), eq(pushSubscriptions.userId, userId))));
  if (!s) throw notFound("subscription");
  return s;
}

export async function renameSubscription(db: Db, userId: string, id: string, name: string): Promise<Subscription> {
  const s = await getSubscription(db, userId, id);
  const trimmed = name.trim();
  if (!trimmed) throw badRequest("name: must not be empty");
  return only(await db.update(pushSubscriptions).set({ name: trimmed, updatedAt: isoMs() }).where(eq(pushSubscriptions.id, s.id)).returning());
}

export async function deleteSubscription(db: Db, userId: string, id: string) {
  const s = await getSubscription(db, userId, id);
  await db.delete(pushSubscriptions).where(eq(pushSubscriptions.id, s.id)); // its queued pushes go with it
}

// ---- settings ----

export interface PushSettingsView {
  messages: boolean;
  failed_runs: boolean;
  muted_agents: string[];
}

export async function getSettings(db: Db, userId: string): Promise<PushSettingsView> {
  const s = first(await db.select().from(pushSettings).where(eq(pushSettings.userId, userId)));
  return { messages: s?.messages ?? true, failed_runs: s?.failedRuns ?? true, muted_agents: s?.mutedAgents ?? [] };
}

export async function putSettings(db: Db, userId: string, patch: Partial<PushSettingsView>): Promise<PushSettingsView> {
  const cur = await getSettings(db, userId);
  const next = {
    messages: patch.messages ?? cur.messages,
    failedRuns: patch.failed_runs ?? cur.failed_runs,
    mutedAgents: patch.muted_agents ? [...new Set(patch.muted_agents)] : cur.muted_agents,
    updatedAt: isoMs(),
  };
  await db.insert(pushSettings).values({ userId, ...next }).onConflictDoUpdate({ target: pushSettings.userId, set: next });
  return getSettings(db, userId);
}
