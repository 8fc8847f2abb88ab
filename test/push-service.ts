// A stand-in Web Push service on loopback, written independently of nod's
// sender: it checks each push the way a real one does (VAPID JWT signed ES256
// by the server's public key, aud = its own origin, exp at most 24 h ahead,
// sub mailto:/https:, aes128gcm body, TTL header) and decrypts the body with
// the subscribing "browser's" private key through http_ece. What the device
// would have shown is kept in `received`, in arrival order.
import { createECDH, createPublicKey, randomBytes, verify, type ECDH } from "node:crypto";
import * as ece from "http_ece";
import { afterAll } from "bun:test";
import { GUARD_MS } from "./helpers.ts";

export interface Delivery {
  device: string; // the subscription's name in the stand-in
  status: number; // what the stand-in answered
  payload: any; // the decrypted JSON
  ttl: number;
  urgency: string | null;
  claims: { aud: string; exp: number; sub: string };
}

/** What the stand-in answers for a device: a status, or "hang" (never answers). */
export type Reply = number | "hang";

export interface StandIn {
  origin: string;
  received: Delivery[];
  /** Problems with a push (bad JWT, undecryptable body…); tests expect none. */
  errors: string[];
  /** A new browser subscription (its own P-256 key pair and 16-byte auth secret) on this service. */
  device(name: string): { endpoint: string; keys: { p256dh: string; auth: string } };
  /** Answers for the next pushes to this device, in order; after them, 201. */
  script(name: string, ...replies: Reply[]): void;
  /** Every later push to this device gets this answer. */
  always(name: string, reply: Reply): void;
  /** Pushes the device got (2xx), oldest first. */
  shown(name: string): any[];
  /** Waits until pred holds for the deliveries so far (polling). */
  until<T>(pred: (received: Delivery[]) => T, what?: string, timeoutMs?: number): Promise<NonNullable<T>>;
  stop(): void;
}

const b64u = (b: Uint8Array) => Buffer.from(b).toString("base64url");

export async function standInPushService(serverKey: () => Promise<string> | string): Promise<StandIn> {
  const devices = new Map<string, { ecdh: ECDH; auth: string }>();
  const scripts = new Map<string, Reply[]>();
  const fixed = new Map<string, Reply>();
  const received: Delivery[] = [];
  const errors: string[] = [];
  const hung: (() => void)[] = [];

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const name = decodeURIComponent(url.pathname.replace(/^\/push\//, ""));
      const dev = devices.get(name);
      if (req.method !== "POST" || !dev) return new Response("no such subscription", { status: 404 });
      const body = new Uint8Array(await req.arrayBuffer());
      let delivery: Delivery;
      try {
        const claims = checkVapid(req.headers.get("authorization"), await serverKey(), url.origin);
        if (req.headers.get("content-encoding") !== "aes128gcm") throw new Error(`content-encoding ${req.headers.get("content-encoding")}`);
        const ttl = Number(req.headers.get("ttl"));
        if (!Number.isInteger(ttl) || ttl < 0) throw new Error(`TTL header ${req.headers.get("ttl")}`);
        const plain = ece.decrypt(Buffer.from(body), { version: "aes128gcm", privateKey: dev.ecdh, authSecret: dev.auth });
        delivery = { device: name, status: 0, payload: JSON.parse(plain.toString("utf8")), ttl, urgency: req.headers.get("urgency"), claims };
      } catch (e) {
        errors.push(`${name}: ${(e as Error).message}`);
        return new Response("bad push", { status: 400 });
      }
      const reply = scripts.get(name)?.shift() ?? fixed.get(name) ?? 201;
      if (reply === "hang") {
        delivery.status = -1;
        received.push(delivery);
        return new Promise<Response>((resolve) => hung.push(() => resolve(new Response(null, { status: 503 }))));
      }
      delivery.status = reply;
      received.push(delivery);
      return new Response(null, { status: reply });
    },
  });
  const origin = `http://127.0.0.1:${server.port}`;
  const stand: StandIn = {
    origin,
    received,
    errors,
    device(name) {
      const ecdh = createECDH("prime256v1");
      ecdh.generateKeys();
      const auth = b64u(randomBytes(16));
      devices.set(name, { ecdh, auth });
      return { endpoint: `${origin}/push/${encodeURIComponent(name)}`, keys: { p256dh: b64u(ecdh.getPublicKey()), auth } };
    },
    script(name, ...replies) {
      scripts.set(name, [...(scripts.get(name) ?? []), ...replies]);
    },
    always(name, reply) {
      fixed.set(name, reply);
    },
    shown(name) {
      return received.filter((d) => d.device === name && d.status >= 200 && d.status < 300).map((d) => d.payload);
    },
    async until(pred, what = "pushes", timeoutMs = GUARD_MS) {
      const end = Date.now() + Math.max(timeoutMs, GUARD_MS);
      for (;;) {
        const v = pred(received);
        if (v) return v as NonNullable<typeof v>;
        if (Date.now() > end) throw new Error(`stand-in push service: timed out waiting for ${what}; got ${JSON.stringify(received.map((d) => [d.device, d.status, d.payload?.type, d.payload?.title]))} errors ${JSON.stringify(errors)}`);
        await Bun.sleep(10);
      }
    },
    stop() {
      hung.splice(0).forEach((f) => f());
      server.stop(true);
    },
  };
  afterAll(() => stand.stop());
  return stand;
}

/** Verifies `Authorization: vapid t=<JWT>, k=<key>` as RFC 8292 says; returns the JWT's claims. */
export function checkVapid(header: string | null, serverKey: string, audience: string) {
  const m = /^vapid t=([\w-]+\.[\w-]+\.[\w-]+), k=([\w-]+)$/.exec(header ?? "");
  if (!m) throw new Error(`Authorization header ${header}`);
  const [, jwt, k] = m as unknown as [string, string, string];
  if (k !== serverKey) throw new Error("k is not the server's public key");
  const [h, p, s] = jwt.split(".") as [string, string, string];
  const head = JSON.parse(Buffer.from(h, "base64url").toString());
  if (head.alg !== "ES256") throw new Error(`alg ${head.alg}`);
  const raw = Buffer.from(k, "base64url");
  const key = createPublicKey({ key: { kty: "EC", crv: "P-256", x: b64u(raw.subarray(1, 33)), y: b64u(raw.subarray(33, 65)) }, format: "jwk" });
  if (!verify("sha256", Buffer.from(`${h}.${p}`), { key, dsaEncoding: "ieee-p1363" }, Buffer.from(s, "base64url"))) throw new Error("JWT signature does not verify");
  const claims = JSON.parse(Buffer.from(p, "base64url").toString());
  const now = Date.now() / 1000;
  if (claims.aud !== audience) throw new Error(`aud ${claims.aud}, expected ${audience}`);
  if (!(claims.exp > now && claims.exp <= now + 24 * 3600)) throw new Error(`exp ${claims.exp} not within 24 h`);
  if (!/^(mailto:|https:)/.test(claims.sub)) throw new Error(`sub ${claims.sub}`);
  return claims as { aud: string; exp: number; sub: string };
}
