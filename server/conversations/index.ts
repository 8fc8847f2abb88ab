// People's routes for conversations and messages.
import { Elysia, t } from "elysia";
import type { Ctx } from "../context.ts";
import { personGuard } from "../auth/guard.ts";
import { getAgent } from "../agents/service.ts";
import { PagingQuery, pageLimit } from "../lib/paging.ts";
import * as conv from "./service.ts";

export function conversationRoutes(ctx: Ctx) {
  return new Elysia({ prefix: "/api" })
    .use(personGuard(ctx))
    .get("/agents/:id/conversations", ({ params }) => conv.listConversations(ctx.db, getAgent(ctx.db, params.id).id))
    .post(
      "/agents/:id/messages",
      ({ params, body, user, set }) => {
        const r = conv.sendUserMessage(ctx, getAgent(ctx.db, params.id), user.username, body.text, body.conversation_id);
        set.status = 201;
        return r;
      },
      {
        body: t.Object({
          text: t.String({ minLength: 1, maxLength: 100_000, error: "text: a non-empty string" }),
          conversation_id: t.Optional(t.Nullable(t.String({ maxLength: 100 }))),
        }),
      },
    )
    .get(
      "/conversations/:id/messages",
      ({ params, query }) => conv.listMessages(ctx.db, conv.getConversation(ctx.db, params.id).id, { before: query.before, limit: pageLimit(query.limit) }),
      { query: t.Object(PagingQuery) },
    )
    .post("/conversations/:id/read", ({ params, set }) => {
      conv.markRead(ctx, params.id);
      set.status = 204;
    });
}
