// Public: GET /media/:name, like the hosted service's storage URLs: the name is the secret.
import { Elysia } from "elysia";
import type { Ctx } from "../context.ts";
import { notFound } from "../lib/errors.ts";
import { PUBLIC } from "../lib/schemas.ts";
import { MEDIA_NAME_RE, mediaStore } from "./store.ts";

// The answer is the file itself, so /docs gets it here rather than from a response schema.
const image = { schema: { type: "string", format: "binary" } } as const;
const MEDIA_RESPONSES = {
  200: { description: "The image", content: { "image/png": image, "image/jpeg": image, "image/gif": image, "image/webp": image } },
  404: { description: "Not found", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
};

export const mediaRoutes = (ctx: Ctx) =>
  new Elysia({ detail: PUBLIC }).get(
    "/media/:name",
    async ({ params }) => {
      if (!MEDIA_NAME_RE.test(params.name)) throw notFound("file");
      const found = await mediaStore(ctx).get(params.name);
      if (!found) throw notFound("file");
      return new Response(found.body, {
        headers: {
          "content-type": found.mime,
          "cache-control": "public, max-age=31536000, immutable",
          "x-content-type-options": "nosniff",
          // Opened directly, an uploaded file can never run as a page of this origin.
          "content-security-policy": "default-src 'none'; sandbox",
        },
      });
    },
    { detail: { summary: "An image an agent sent (public: the name is the key)", responses: MEDIA_RESPONSES } },
  );
