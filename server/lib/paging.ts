import { t } from "elysia";

/** ?limit= (default 50, at most 200) and ?before=ID (older than that item). */
export const PagingQuery = {
  // multipleOf 1: a whole number (SQLite refuses LIMIT 1.5 with a datatype mismatch).
  limit: t.Optional(t.Numeric({ minimum: 1, maximum: 200, multipleOf: 1, error: "limit: a whole number from 1 to 200" })),
  before: t.Optional(t.String({ maxLength: 100 })),
};
export const pageLimit = (limit: number | undefined) => limit ?? 50;
