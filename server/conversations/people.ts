// People's routes for conversations and messages: /api/agents/:id/conversations,
// /api/agents/:id/messages, /api/conversations/:id/messages, /api/conversations/:id/read.
import { Elysia, t } from "elysia";
import type { Ctx } from "../context.ts";
import { personGuard } from "../auth/guard.ts";
import { getAgent } from "../agents/service.ts";
import { PagingQuery, pageLimit } from "../lib/paging.ts";
import { SendMessageBody } from "./model.ts";
import * as conv from "./service.ts";

export function peopleConversationRoutes(ctx: Ctx) {
  return new Elysia()
    .use(personGuard(ctx))
    .get("/api/agents/:id/conversations", ({ params }) => conv.listConversations(ctx.db, getAgent(ctx.db, params.id).id))
    .post(
      "/api/agents/:id/messages",
      ({ params, body, user, set }) => {
        const r = conv.sendUserMessage(ctx, getAgent(ctx.db, params.id), user.username, body.text, body.conversation_id);
        set.status = 201;
        return r;
      },
      { body: SendMessageBody },
    )
    .get(
      "/api/conversations/:id/messages",
      ({ params, query }) => conv.listMessages(ctx.db, conv.getConversation(ctx.db, params.id).id, { before: query.before, limit: pageLimit(query.limit) }),
      { query: t.Object(PagingQuery) },
    )
    .post("/api/conversations/:id/read", ({ params, set }) => {
      conv.markRead(ctx, params.id);
      set.status = 204;
    });
}
