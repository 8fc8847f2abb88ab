// Ids: a prefix, then 12 hex digits of milliseconds and 4 of a per-process
// counter (so ids made later sort later, even within one millisecond), then
// 8 random hex digits. Agent ids and secrets follow the Nod formats instead.
import { randomBytes } from "node:crypto";

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

export const randomHex = (bytes: number) => randomBytes(bytes).toString("hex");

export const newAgentId = () => "agt_" + randomHex(8); // 16 hex
export const newAgentSecret = () => "nod_" + randomHex(20); // 40 hex
export const newWebhookSecret = () => "whsec_" + randomHex(24); // 48 hex
export const newTriggerId = () => randomHex(32); // 64 hex
