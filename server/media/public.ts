// Public: GET /media/:name, like the hosted service's storage URLs: the name is the secret.
import { Elysia } from "elysia";
import path from "node:path";
import type { Ctx } from "../context.ts";
import { notFound } from "../lib/errors.ts";
import { PUBLIC } from "../lib/schemas.ts";
import { MEDIA_NAME_RE, mediaDir, mimeForMedia } from "./service.ts";

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
      const file = Bun.file(path.join(mediaDir(ctx), params.name));
      if (!(await file.exists())) throw notFound("file");
      return new Response(file, {
        headers: {
          "content-type": mimeForMedia(params.name),
          "cache-control": "public, max-age=31536000, immutable",
          "x-content-type-options": "nosniff",
          // Opened directly, an uploaded file can never run as a page of this origin.
          "content-security-policy": "default-src 'none'; sandbox",
        },
      });
    },
    { detail: { summary: "An image an agent sent (public: the name is the key)", responses: MEDIA_RESPONSES } },
  );
