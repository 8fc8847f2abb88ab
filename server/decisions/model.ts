// The shapes of the routes about requests ("decisions"), for people and agents.
import { t } from "elysia";
import { PagingQuery } from "../lib/paging.ts";

export const DecisionListQuery = t.Object({
  status: t.Optional(t.Union([t.Literal("pending"), t.Literal("resolved")], { error: "status: 'pending' or 'resolved'" })),
  agent_id: t.Optional(t.String({ maxLength: 100 })),
  ...PagingQuery,
});

const ResolveStatus = t.Union([t.Literal("approved"), t.Literal("rejected"), t.Literal("responded"), t.Literal("dismissed")], {
  error: "status: must be one of approved, rejected, responded, dismissed",
});

export const RespondBody = t.Object({
  status: ResolveStatus,
  note: t.Optional(t.Nullable(t.String({ maxLength: 20_000 }))),
  always_allow: t.Optional(t.Boolean()),
  always_allow_pattern: t.Optional(t.Nullable(t.String({ maxLength: 500 }))),
});

export const SelfResolveBody = t.Object({
  decision_id: t.String({ minLength: 1, maxLength: 100 }),
  note: t.Optional(t.Nullable(t.String({ maxLength: 20_000 }))),
});

export const LongPollQuery = t.Object({
  wait: t.Optional(t.Numeric({ minimum: 0, multipleOf: 1, error: "wait: a whole number of seconds" })),
});
