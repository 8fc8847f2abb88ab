// The shapes of the people's push routes (API.md "People: devices and push notifications").
import { t, type Static } from "elysia";
import { OrNull, Time } from "../lib/schemas.ts";

const Name = t.String({ minLength: 1, maxLength: 100, error: "name: 1 to 100 characters" });

/** A browser's PushSubscription as JSON, plus a name for the device. */
export const SubscriptionBody = t.Object({
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

export const RenameBody = t.Object({ name: Name });

export const SettingsBody = t.Object({
  messages: t.Optional(t.Boolean({ error: "messages: true or false" })),
  failed_runs: t.Optional(t.Boolean({ error: "failed_runs: true or false" })),
  muted_agents: t.Optional(t.Array(t.String({ maxLength: 100 }), { maxItems: 1000, error: "muted_agents: a list of agent ids" })),
});

/** A device as its person sees it: never its keys. */
export const SubscriptionView = t.Object({
  id: t.String(),
  name: t.String(),
  endpoint: t.String(),
  created_at: Time,
  updated_at: Time,
  last_success_at: OrNull(Time),
  last_error: OrNull(t.String()),
});
export type SubscriptionView = Static<typeof SubscriptionView>;

export const SettingsView = t.Object({
  messages: t.Boolean({ description: "Agent messages (requests are always pushed)" }),
  failed_runs: t.Boolean({ description: "Failed and timed-out task runs" }),
  muted_agents: t.Array(t.String(), { description: "Agents whose messages and failed runs are not pushed" }),
});

export const PublicKey = t.Object({ public_key: t.String({ description: "VAPID public key: base64url, uncompressed P-256 point (65 bytes)" }) });
export const TestQueued = t.Object({ queued: t.Integer({ description: "Pushes queued, one per device" }) });
