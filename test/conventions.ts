// API.md "Everywhere", as one check both spec tests apply to every body and frame:
// every *_at is null or an ISO 8601 UTC time with Z; every id has its prefix.
import { expect } from "bun:test";

export const ISO_Z = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
export const PREFIX: Record<string, RegExp> = {
  agent_id: /^agt_[0-9a-f]{16}$/,
  conversation_id: /^conv_/,
  message_id: /^msg_/,
  decision_id: /^dec_/,
  task_id: /^tsk_/,
  run_id: /^run_/,
  task_run_id: /^run_/,
  event_id: /^evt_/,
  session_id: /^sess_/,
};
export const ID = /^(agt|conv|msg|dec|tsk|run|evt|act|usr)_[0-9a-f]+$/;

export function checkEverywhere(v: unknown, where = "body") {
  if (Array.isArray(v)) return v.forEach((x, i) => checkEverywhere(x, `${where}[${i}]`));
  if (v === null || typeof v !== "object") return;
  for (const [k, x] of Object.entries(v)) {
    const at = `${where}.${k}`;
    if (k.endsWith("_at") && x !== null) expect(x, at).toMatch(ISO_Z);
    if (k === "id" && typeof x === "string") expect(x, at).toMatch(ID);
    if (PREFIX[k] && typeof x === "string") expect(x, at).toMatch(PREFIX[k]!);
    if (k !== "payload") checkEverywhere(x, at); // a webhook payload is the caller's own JSON
  }
}
