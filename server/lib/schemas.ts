// What every route's schemas share: times, nullable values, whole numbers,
// the error body, who may call a group of routes, and a route's summary.
// Response schemas describe exactly what is sent: Elysia checks each answer
// against its route's schema, and /docs/json is generated from them.
import { Elysia, t, type DocumentDecoration, type TSchema } from "elysia";
import { Type } from "@sinclair/typebox";

/** A time as the API sends it: ISO 8601 UTC without milliseconds (2026-11-23T09:00:00Z). */
export const Time = t.String({ format: "date-time" });
/** A value or null. */
export const OrNull = <T extends TSchema>(schema: T) => t.Union([schema, t.Null()]);
/** A whole number (Elysia's t.Integer also accepts numeric strings: right for a query, wrong for an answer). */
export const Int = Type.Integer;

/** Every error nod answers: {"detail": "…"}; for bad input the detail names the field. */
export const ErrorBody = t.Object(
  { detail: t.String({ description: 'What went wrong; for bad input, the field first ("title: required")' }) },
  { description: "An error" },
);

/** The schemas routes name by reference (`"Error"`): /docs/json lists them once, under components. */
export const models = new Elysia({ name: "nod-models" }).model({ Error: ErrorBody });

type ErrorCode = 400 | 401 | 403 | 404 | 409 | 413 | 429 | 503;
/** The error answers a route can give, for its `response` map: `{ 200: X, ...errors(401, 404) }`. */
export const errors = <const C extends ErrorCode[]>(...codes: C) =>
  Object.fromEntries(codes.map((c) => [c, "Error"])) as { [K in C[number]]: "Error" };

/** A route's summary (and description) in /docs. */
export const doc = (summary: string, description?: string) => ({ detail: { summary, ...(description ? { description } : {}) } });

/**
 * The request body of a route that reads its body itself (so that its 400s
 * name the field its own way), for /docs: media type → JSON Schema.
 */
export const bodyDoc = (content: Record<string, { schema: unknown }>, required = true) =>
  ({ required, content }) as unknown as NonNullable<DocumentDecoration["requestBody"]>;

/** Who may call a group of routes, for /docs: `new Elysia({ detail: PEOPLE })`. */
export const PUBLIC = { tags: ["server"] };
export const PEOPLE = { tags: ["people"], security: [{ session: [] }] };
export const AGENTS = { tags: ["agent"], security: [{ agentId: [], agentSecret: [] }] };
