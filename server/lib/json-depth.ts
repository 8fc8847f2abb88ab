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

/**
 * Where the first string (or object key) holding U+0000 is, as `field.a[2]`,
 * or null when there is none. PostgreSQL's text cannot store that character,
 * so nod refuses it on every store, the same way (a 400, not a failed write).
 */
export function nulAt(value: unknown, field = "body"): string | null {
  const stack: [unknown, string][] = [[value, field]];
  while (stack.length) {
    const [v, at] = stack.pop()!;
    if (typeof v === "string") {
      if (v.includes("\u0000")) return at;
    } else if (Array.isArray(v)) {
      v.forEach((child, i) => stack.push([child, `${at}[${i}]`]));
    } else if (isJsonContainer(v)) {
      for (const [k, child] of Object.entries(v)) {
        if (k.includes("\u0000")) return at;
        stack.push([child, at === "body" ? k : `${at}.${k}`]);
      }
    }
  }
  return null;
}

export const nulDetail = (at: string) => `${at}: contains a NUL character (U+0000), which nod does not store`;

/** Throws 400 {"detail": "text: contains a NUL character …"} for a value holding U+0000 anywhere. */
export function checkNoNul(value: unknown, field = "body") {
  const at = nulAt(value, field);
  if (at !== null) throw badRequest(nulDetail(at));
}
