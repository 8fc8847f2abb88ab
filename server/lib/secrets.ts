// Agent secrets are 160 random bits, so a fast hash is enough to store them;
// people's passwords go through Bun.password (argon2id) instead.
import { createHmac, timingSafeEqual } from "node:crypto";

export const sha256hex = (text: string) => Bun.SHA256.hash(text, "hex") as string;

/** Constant-time comparison of a presented secret against a stored SHA-256 hex digest. */
export function secretMatches(presented: string, storedHash: string): boolean {
  const a = Buffer.from(sha256hex(presented), "hex");
  const b = Buffer.from(storedHash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}

/** X-Nod-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>"> keyed by the whole whsec_ string. */
export const signWebhook = (webhookSecret: string, timestamp: string, body: string) =>
  "sha256=" + createHmac("sha256", webhookSecret).update(`${timestamp}.${body}`).digest("hex");
