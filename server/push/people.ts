// People's routes for Web Push: the server's key, the person's devices, a test
// push and what the person wants to be told about. Each person sees only their own.
import { t } from "elysia";
import type { Ctx } from "../context.ts";
import { forPeople } from "../auth/guard.ts";
import { doc, errors } from "../lib/schemas.ts";
import { badRequest } from "../lib/errors.ts";
import { privateDestination } from "../lib/private-address.ts";
import { vapidKeys } from "./vapid.ts";
import * as push from "./service.ts";
import { notifyPeople } from "./notices.ts";
import { PublicKey, RenameBody, SettingsBody, SettingsView, SubscriptionBody, SubscriptionView, TestQueued } from "./model.ts";

export function peoplePushRoutes(ctx: Ctx) {
  return forPeople(ctx)
    .get("/api/push/key", async () => ({ public_key: (await vapidKeys(ctx)).publicKey }), {
      response: { 200: PublicKey, ...errors(401) },
      ...doc("The server's VAPID public key, for PushManager.subscribe"),
    })
    .post(
      "/api/push/subscriptions",
      async ({ body, user, request, status }) => {
        // The server POSTs to this URL: --webhook-block-private keeps it off private networks too.
        if (ctx.config.webhookBlockPrivate && URL.canParse(body.endpoint)) {
          const blocked = await privateDestination(body.endpoint);
          if (blocked) throw badRequest(`endpoint: ${blocked}`);
        }
        const { sub, created } = await ctx.writer.now(async (uow) => push.saveSubscription(uow, user.id, body, request.headers.get("user-agent")));
        return status(created ? 201 : 200, push.publicSubscription(sub));
      },
      {
        body: SubscriptionBody,
        response: { 200: SubscriptionView, 201: SubscriptionView, ...errors(400, 401, 403, 409, 413) },
        ...doc("Add this device (a browser PushSubscription)", "The same endpoint again updates it (200). https endpoints, or http on loopback."),
      },
    )
    .get("/api/push/subscriptions", async ({ user }) => (await push.listSubscriptions(ctx.db, user.id)).map(push.publicSubscription), {
      response: { 200: t.Array(SubscriptionView), ...errors(401) },
      ...doc("Your devices"),
    })
    .patch("/api/push/subscriptions/:id", async ({ params, body, user }) => push.publicSubscription(await ctx.writer.now(async (uow) => push.renameSubscription(uow.db, user.id, params.id, body.name))), {
      body: RenameBody,
      response: { 200: SubscriptionView, ...errors(400, 401, 403, 404, 413) },
      ...doc("Rename a device"),
    })
    .delete(
      "/api/push/subscriptions/:id",
      async ({ params, user, set }) => {
        await ctx.writer.now(async (uow) => push.deleteSubscription(uow.db, user.id, params.id));
        set.status = 204;
      },
      { response: { 204: t.Void({ description: "Removed" }), ...errors(401, 403, 404) }, ...doc("Remove a device") },
    )
    .post("/api/push/test", async ({ user, status }) => status(202, { queued: await ctx.writer.now(async (uow) => notifyPeople(uow, { kind: "test", userId: user.id })) }), {
      response: { 202: TestQueued, ...errors(401, 403) },
      ...doc("Send a test notification to each of your devices"),
    })
    .get("/api/push/settings", ({ user }) => push.getSettings(ctx.db, user.id), {
      response: { 200: SettingsView, ...errors(401) },
      ...doc("What you are told about"),
    })
    .put("/api/push/settings", ({ body, user }) => ctx.writer.now(async (uow) => push.putSettings(uow.db, user.id, body)), {
      body: SettingsBody,
      response: { 200: SettingsView, ...errors(400, 401, 403, 413) },
      ...doc("Change what you are told about", "Requests are always pushed; messages, failed runs and muted agents are yours to choose."),
    });
}
