// Images agents send as image_base64: checked by content, stored with an
// unguessable name (files in <data>/media on SQLite, the media table on
// PostgreSQL: store.ts), served at <public-url>/media/<name>.
import type { Ctx } from "../context.ts";
import { randomHex } from "../lib/ids.ts";
import { badRequest, tooLarge } from "../lib/errors.ts";
import { MEDIA_MIME, mediaStore } from "./store.ts";

export { mediaDir, MEDIA_NAME_RE, mimeForMedia } from "./store.ts";

export const MAX_IMAGE_BYTES = 5 * 1024 * 1024;

const TYPES: { ext: string; test: (b: Uint8Array) => boolean }[] = [
  { ext: "png", test: (b) => b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 },
  { ext: "jpg", test: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  { ext: "gif", test: (b) => String.fromCharCode(...b.subarray(0, 4)) === "GIF8" },
  { ext: "webp", test: (b) => String.fromCharCode(...b.subarray(0, 4)) === "RIFF" && String.fromCharCode(...b.subarray(8, 12)) === "WEBP" },
];

/** Decodes, checks and stores an image; returns its public URL. */
export async function storeImage(ctx: Ctx, base64: string): Promise<string> {
  let data = base64.trim();
  const m = /^data:([\w/+.-]+)?(;[\w=-]+)*;base64,/.exec(data);
  if (m) data = data.slice(m[0].length);
  if (data.length > Math.ceil((MAX_IMAGE_BYTES * 4) / 3) + 4) throw tooLarge("image_base64: image larger than 5 MB");
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(data.replace(/\s+/g, ""))) throw badRequest("image_base64: not valid base64");
  const bytes = Buffer.from(data, "base64");
  if (bytes.length === 0) throw badRequest("image_base64: empty image");
  if (bytes.length > MAX_IMAGE_BYTES) throw tooLarge("image_base64: image larger than 5 MB");
  const type = TYPES.find((t) => t.test(bytes));
  if (!type) throw badRequest("image_base64: not a PNG, JPEG, GIF or WebP image");
  const name = `${randomHex(16)}.${type.ext}`;
  await mediaStore(ctx).put(name, MEDIA_MIME[type.ext]!, bytes);
  return `${ctx.config.publicUrl}/media/${name}`;
}
