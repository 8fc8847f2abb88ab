// People's routes for conversations and messages: /api/agents/:id/conversations,
// /api/agents/:id/messages, /api/conversations/:id/messages, /api/messages/:id, /api/conversations/:id/read.
import { t } from "elysia";
import type { Ctx } from "../context.ts";
import { forPeople } from "../auth/guard.ts";
import { getAgent } from "../agents/service.ts";
import { PagingQuery, pageLimit } from "../lib/paging.ts";
import { doc, errors } from "../lib/schemas.ts";
import { ConversationView, MessageView, SendMessageBody, SentMessage } from "./model.ts";
import * as conv from "./service.ts";

export function peopleConversationRoutes(ctx: Ctx) {
  return forPeople(ctx)
    .get("/api/agents/:id/conversations", async ({ params }) => conv.listConversations(ctx.db, (await getAgent(ctx.db, params.id)).id), {
      response: { 200: t.Array(ConversationView), ...errors(401, 404) },
      ...doc("An agent's conversations, the latest first"),
    })
    .post(
      "/api/agents/:id/messages",
      async ({ params, body, user, status }) =>
        status(201, await conv.sendUserMessage(ctx, await getAgent(ctx.db, params.id), user.username, body.text, body.conversation_id)),
      {
        body: SendMessageBody,
        response: { 201: SentMessage, ...errors(400, 401, 403, 404, 413) },
        ...doc("Write to an agent", "Without conversation_id, to its default conversation. The agent receives user_message. 403 for an approval-only agent."),
      },
    )
    .get(
      "/api/conversations/:id/messages",
      async ({ params, query }) => conv.listMessages(ctx.db, (await conv.getConversation(ctx.db, params.id)).id, { before: query.before, limit: pageLimit(query.limit) }),
      { query: t.Object(PagingQuery), response: { 200: t.Array(MessageView), ...errors(400, 401, 404) }, ...doc("A conversation's messages, oldest first (?before pages back)") },
    )
    .get("/api/messages/:id", async ({ params }) => conv.publicMessage(await conv.getMessage(ctx.db, params.id)), {
      response: { 200: MessageView, ...errors(401, 404) },
      ...doc("One message (where the activity feed links to; its conversation_id opens the chat there)"),
    })
    .post(
      "/api/conversations/:id/read",
      async ({ params, set }) => {
        await conv.markRead(ctx, params.id);
        set.status = 204;
      },
      { response: { 204: t.Void({ description: "Marked read" }), ...errors(401, 403, 404) }, ...doc("Mark a conversation's messages read") },
    );
}
