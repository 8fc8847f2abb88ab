// The shapes of the activity routes.
import { t } from "elysia";
import { PagingQuery } from "../lib/paging.ts";

export const ActivityQuery = t.Object({ agent_id: t.Optional(t.String({ maxLength: 100 })), ...PagingQuery });
