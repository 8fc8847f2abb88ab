// People's routes for Web Push: the server's key, the person's devices, a test
// push and what the person wants to be told about. Each person sees only their own.
import { Elysia, t } from "elysia";
import type { Ctx } from "../context.ts";
import { personGuard } from "../auth/guard.ts";
import { inTx } from "../db/index.ts";
import { vapidKeys } from "./vapid.ts";
import * as push from "./service.ts";

const Name = t.String({ minLength: 1, maxLength: 100, error: "name: 1 to 100 characters" });

const SubscriptionBody = t.Object({
  endpoint: t.String({ minLength: 1, maxLength: 2048, error: "endpoint: a URL of at most 2048 characters" }),
  expirationTime: t.Optional(t.Nullable(t.Number())),
  keys: t.Object(
    {
      p256dh: t.String({ minLength: 1, maxLength: 200, error: "keys.p256dh: a base64url P-256 public key" }),
      auth: t.String({ minLength: 1, maxLength: 100, error: "keys.auth: 16 bytes, base64url" }),
    },
    { error: "keys: an object with p256dh and auth" },
  ),
  name: t.Optional(t.Nullable(Name)),
});

const SettingsBody = t.Object({
  messages: t.Optional(t.Boolean({ error: "messages: true or false" })),
  failed_runs: t.Optional(t.Boolean({ error: "failed_runs: true or false" })),
  muted_agents: t.Optional(t.Array(t.String({ maxLength: 100 }), { maxItems: 1000, error: "muted_agents: a list of agent ids" })),
});

export function pushRoutes(ctx: Ctx) {
  return new Elysia({ prefix: "/api/push" })
    .use(personGuard(ctx))
    .get("/key", () => ({ public_key: vapidKeys(ctx.db).publicKey }))
    .post(
      "/subscriptions",
      ({ body, user, request, set }) => {
        const { sub, created } = push.saveSubscription(ctx.db, user.id, body, request.headers.get("user-agent"));
        set.status = created ? 201 : 200;
        return push.publicSubscription(sub);
      },
      { body: SubscriptionBody },
    )
    .get("/subscriptions", ({ user }) => push.listSubscriptions(ctx.db, user.id).map(push.publicSubscription))
    .patch("/subscriptions/:id", ({ params, body, user }) => push.publicSubscription(push.renameSubscription(ctx.db, user.id, params.id, body.name)), {
      body: t.Object({ name: Name }),
    })
    .delete("/subscriptions/:id", ({ params, user, set }) => {
      push.deleteSubscription(ctx.db, user.id, params.id);
      set.status = 204;
    })
    .post("/test", ({ user, set }) => {
      const queued = inTx(ctx.db, () => push.enqueuePush(ctx.db, { kind: "test", userId: user.id }));
      ctx.push.wake();
      set.status = 202;
      return { queued };
    })
    .get("/settings", ({ user }) => push.getSettings(ctx.db, user.id))
    .put("/settings", ({ body, user }) => push.putSettings(ctx.db, user.id, body), { body: SettingsBody });
}
