// How deeply nested a JSON value nod accepts. Bun parses deep JSON fine, but
// JSON.stringify (storing a payload) overflows the stack at about 100,000
// levels, and agents' parsers (Python's json, many others) fail far sooner.
// One check for every place JSON comes in: request bodies (http.ts), the
// webhook trigger's payload, agents' WebSocket frames.
import { badRequest } from "./errors.ts";

export const MAX_JSON_DEPTH = 64;

// What JSON.parse builds; raw bodies (ArrayBuffer, FormData, File) are not walked.
const isJsonContainer = (v: unknown): v is object => {
  if (v === null || typeof v !== "object") return false;
  if (Array.isArray(v)) return true;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/** True when value has more than max levels of arrays/objects. Iterative: it cannot overflow itself. */
export function nestedDeeperThan(value: unknown, max = MAX_JSON_DEPTH): boolean {
  if (!isJsonContainer(value)) return false;
  const stack: [object, number][] = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (depth > max) return true;
    for (const child of Object.values(v)) if (isJsonContainer(child)) stack.push([child, depth + 1]);
  }
  return false;
}

export const tooDeepDetail = (field = "body") => `${field}: JSON nested deeper than ${MAX_JSON_DEPTH} levels`;

/** Throws 400 {"detail": "body: JSON nested deeper than 64 levels"} for a value nested too deeply. */
export function checkJsonDepth(value: unknown, field = "body") {
  if (nestedDeeperThan(value)) throw badRequest(tooDeepDetail(field));
}
