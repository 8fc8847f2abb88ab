// Public: POST /webhook/:trigger_id fires an event task (the 64-hex trigger id is the only key).
import { Elysia } from "elysia";
import type { Ctx } from "../context.ts";
import { MiB } from "../http.ts";
import { tooLarge } from "../lib/errors.ts";
import { bodyDoc, errors, models } from "../lib/schemas.ts";
import { TriggerAccepted } from "./model.ts";
import { receiveTrigger } from "./trigger-call.ts";
import { triggerPayload } from "./trigger-payload.ts";

export const WEBHOOK_MAX_BODY = 1 * MiB;

/** Any body: JSON becomes the payload as is, anything else {"content_type","body"} (trigger-payload.ts). */
const ANY_BODY = bodyDoc(
  {
    "application/json": { schema: { description: "Any JSON: the task_trigger's payload as it is" } },
    "*/*": { schema: { type: "string", format: "binary", description: 'Anything else: the payload is {"content_type","body"}' } },
  },
  false,
);

export function taskTriggerRoutes(ctx: Ctx) {
  // Public, and listed with the agent API it feeds.
  return new Elysia({ detail: { tags: ["agent"] } }).use(models).post(
    "/webhook/:trigger_id",
    async ({ params, request, body, status }) => {
      // Content-Length above 1 MiB was refused before reading (http.ts); a chunked
      // body has none, so its real size is checked here.
      const raw = new Uint8Array(body as ArrayBuffer);
      if (raw.byteLength > WEBHOOK_MAX_BODY) throw tooLarge(`request body too large (limit ${WEBHOOK_MAX_BODY / MiB} MiB)`);
      return status(202, await receiveTrigger(ctx, params.trigger_id, () => triggerPayload(request.headers.get("content-type"), raw)));
    },
    {
      parse: "arrayBuffer",
      response: { 202: TriggerAccepted, ...errors(404, 409, 413, 429) },
      detail: {
        summary: "Fire an event task (public; the trigger id is the key)",
        description: "Any body up to 1 MiB. Creates a due run; the agent receives task_trigger with the payload. 404 unknown trigger; 409 disabled task; 413 too large; 429 more than 60 calls a minute.",
        requestBody: ANY_BODY,
      },
    },
  );
}
