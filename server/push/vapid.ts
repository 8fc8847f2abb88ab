// The server's VAPID identity (RFC 8292): one P-256 key pair, made at the first
// start and kept in the database, so browsers' subscriptions (bound to the
// public key) keep working across restarts. The signed JWT is web-push's; it
// is cached per push service for an hour (each one is valid for 12 h).
import webpush from "web-push";
import { eq } from "drizzle-orm";
import type { Db } from "../db/index.ts";
import { first } from "../db/rows.ts";
import type { Config } from "../config.ts";
import type { Ctx } from "../context.ts";
import { serverSettings } from "../db/tables.ts";
import { isoMs } from "../lib/time.ts";

export interface VapidKeys {
  publicKey: string; // base64url, uncompressed point (65 bytes)
  privateKey: string; // base64url, 32 bytes
}

const KEY = "vapid";

/** The stored key pair, created on first use (safe when two processes race: the first insert wins). */
export async function vapidKeys(ctx: Pick<Ctx, "db" | "writer">): Promise<VapidKeys> {
  const stored = async (db: Db) => first(await db.select().from(serverSettings).where(eq(serverSettings.key, KEY)));
  const row = await stored(ctx.db);
  if (row) return JSON.parse(row.value) as VapidKeys;
  const fresh = webpush.generateVAPIDKeys();
  return ctx.writer.now(async (uow) => {
    await uow.db.insert(serverSettings).values({ key: KEY, value: JSON.stringify(fresh), createdAt: isoMs() }).onConflictDoNothing();
    return JSON.parse((await stored(uow.db))!.value) as VapidKeys;
  });
}

/**
 * The JWT's `sub`: how a push service's operator can reach whoever runs this
 * server. --push-contact wins; else the public URL when it is https (Apple
 * refuses localhost); else a mailto: at the public URL's host.
 */
export function vapidSubject(config: Config): string {
  if (config.pushContact) return config.pushContact;
  const pub = new URL(config.publicUrl);
  if (pub.protocol === "https:" && pub.hostname !== "localhost") return pub.origin;
  return `mailto:nod@${pub.hostname.includes(".") ? pub.hostname : "nod.invalid"}`;
}

const JWT_LIFETIME_S = 12 * 3600;
const REUSE_MS = 3600_000;

export class VapidSigner {
  private cache = new Map<string, { header: string; madeAt: number }>();
  constructor(
    private keys: VapidKeys,
    private subject: string,
  ) {}

  get publicKey() {
    return this.keys.publicKey;
  }

  /** `Authorization: vapid t=…, k=…` for the push service at this origin. */
  authorization(audience: string, now = Date.now()): string {
    const hit = this.cache.get(audience);
    if (hit && now - hit.madeAt < REUSE_MS) return hit.header;
    const exp = Math.floor(now / 1000) + JWT_LIFETIME_S;
    const { Authorization } = webpush.getVapidHeaders(audience, this.subject, this.keys.publicKey, this.keys.privateKey, "aes128gcm", exp) as {
      Authorization: string;
    };
    this.cache.set(audience, { header: Authorization, madeAt: now });
    return Authorization;
  }
}
