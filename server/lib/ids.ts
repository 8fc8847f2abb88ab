// Ids: a prefix, then 12 hex digits of milliseconds and 4 of a per-process
// counter (so ids made later sort later, even within one millisecond), then
// 8 random hex digits. Agent ids and secrets follow the Nod formats instead.
import { randomFillSync } from "node:crypto";

let lastMs = 0;
let counter = 0;

export function timeId(prefix: string): string {
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    counter = 0;
  } else if (++counter > 0xffff) {
    lastMs += 1; // more than 65,536 ids in one millisecond: borrow the next one
    counter = 0;
  }
  return prefix + lastMs.toString(16).padStart(12, "0") + counter.toString(16).padStart(4, "0") + randomHex(4);
}

// Random bytes come from the CSPRNG a pool at a time: three ids per agent
// event made a call into the crypto library (and a Buffer) each otherwise.
const pool = Buffer.alloc(4096);
let used = pool.length;

export function randomHex(bytes: number): string {
  if (bytes > pool.length) return randomFillSync(Buffer.alloc(bytes)).toString("hex");
  if (used + bytes > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const hex = pool.toString("hex", used, used + bytes);
  pool.fill(0, used, used + bytes); // handed out once: no copy of a secret's bytes stays behind
  used += bytes;
  return hex;
}

export const newAgentId = () => "agt_" + randomHex(8); // 16 hex
export const newAgentSecret = () => "nod_" + randomHex(20); // 40 hex
export const newWebhookSecret = () => "whsec_" + randomHex(24); // 48 hex
export const newTriggerId = () => randomHex(32); // 64 hex
