// Public: POST /webhook/:trigger_id fires an event task (the 64-hex trigger id is the only key).
import { Elysia } from "elysia";
import type { Ctx } from "../context.ts";
import { MiB } from "../http.ts";
import { tooLarge } from "../lib/errors.ts";
import { doc } from "../lib/schemas.ts";
import * as runs from "./runs.ts";

export const WEBHOOK_MAX_BODY = 1 * MiB;

export function taskTriggerRoutes(ctx: Ctx) {
  return new Elysia().post(
    "/webhook/:trigger_id",
    ({ params, request, body, set }) => {
      // Content-Length above 1 MiB was refused before reading (http.ts); a chunked
      // body has none, so its real size is checked here.
      const raw = new Uint8Array(body as ArrayBuffer);
      if (raw.byteLength > WEBHOOK_MAX_BODY) throw tooLarge(`request body too large (limit ${WEBHOOK_MAX_BODY / MiB} MiB)`);
      const r = runs.receiveTrigger(ctx, params.trigger_id, () => runs.triggerPayload(request.headers.get("content-type"), raw));
      set.status = 202;
      return r;
    },
    {
      parse: "arrayBuffer",
      ...doc(
        "Fire an event task (public; the trigger id is the key)",
        'Any body up to 1 MiB: JSON becomes the payload as is, anything else {"content_type","body"}. 202 {"status":"accepted","run_id"}; 404 unknown trigger; 409 disabled task; 413 too large; 429 more than 60 calls a minute.',
      ),
    },
  );
}
