// Validation with TypeBox (the library under Elysia's `t`), for input that does
// not come through an Elysia route schema: agent events arrive over REST and
// over the WebSocket and are checked by the same compiled schemas.
import type { TSchema, Static } from "@sinclair/typebox";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import type { ValueError } from "@sinclair/typebox/errors";
import { badRequest } from "./errors.ts";

/** "title: required", "options/1: Expected string" — the field first, as people read it. */
export function describeValueError(e: ValueError | undefined, value?: unknown): string {
  if (!e) return "invalid request body";
  e = deepest(e);
  const field = e.path.replace(/^\//, "").replace(/\//g, ".") || "body";
  if (e.value === undefined && e.path) return `${field}: required`;
  const custom = (e.schema as { error?: unknown }).error;
  if (typeof custom === "string") return custom;
  if (field === "body" && (value === null || typeof value !== "object")) return "body: expected a JSON object";
  return `${field}: ${e.message.charAt(0).toLowerCase()}${e.message.slice(1)}`;
}

export class Validator<T extends TSchema> {
  private check: TypeCheck<T>;
  constructor(schema: T) {
    this.check = TypeCompiler.Compile(schema);
  }
  /** Returns the value typed, or throws 400 naming the first bad field. */
  parse(value: unknown): Static<T> {
    if (this.check.Check(value)) return value;
    throw badRequest(describeValueError(this.check.Errors(value).First(), value));
  }
}

/** For a union ("expected union value"), the most specific error among its branches. */
function deepest(e: ValueError): ValueError {
  if ((e.schema as { error?: unknown }).error !== undefined || !e.errors?.length) return e;
  let best = e;
  let sameType: ValueError | undefined; // the branch of the value's own type ("" for a non-empty string)
  for (const branch of e.errors) {
    const first = branch.First();
    if (!first) continue;
    if (first.path.length > best.path.length) best = deepest(first);
    else if (!sameType && first.path === e.path && schemaType(first.schema) === jsonType(e.value)) sameType = first;
  }
  return best === e && sameType ? deepest(sameType) : best;
}

const schemaType = (s: unknown) => {
  const t = (s as { type?: unknown }).type;
  return t === "integer" ? "number" : t;
};
const jsonType = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);
