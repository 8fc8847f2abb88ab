// What the body of a call to a task's webhook becomes: the payload stored
// with the run and handed to the agent in task_trigger.
import { checkJsonDepth } from "../lib/json-depth.ts";

/**
 * Payload of a webhook call: JSON bodies as they are, anything else {content_type, body}.
 * A body that is JSON counts whatever its Content-Type says (curl -d sends a form
 * type, fetch() with a string text/plain), as long as it starts with { or [.
 */
export function triggerPayload(contentType: string | null, raw: Uint8Array): unknown {
  const text = new TextDecoder().decode(raw);
  const ct = (contentType ?? "").toLowerCase();
  if (ct.includes("json") || /^\s*[{[]/.test(text)) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return { content_type: contentType || null, body: text };
    }
    checkJsonDepth(value); // the payload is stored and handed to the agent's parser as is (a json column: a NUL in it stays escaped)
    return value;
  }
  return { content_type: contentType || null, body: text };
}
