// Where images live. On SQLite: files in DATA/media, as nod always kept them.
// On PostgreSQL several instances share no disk, so each image is a row of the
// media table instead. storeImage and GET /media/:name go through this, and see
// the same names, types and bytes either way.
import { unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { eq, inArray } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import { first } from "../db/rows.ts";
import { dialect, media } from "../db/tables.ts";
import { isoMs } from "../lib/time.ts";
import { FILE_MODE, privateDir } from "../lib/private-files.ts";

export interface MediaStore {
  /** Keeps a new image under name (a fresh random name: never an overwrite). */
  put(name: string, mime: string, bytes: Uint8Array): Promise<void>;
  /** The image's type and bytes (a file is streamed), or null when there is none. */
  get(name: string): Promise<{ mime: string; body: BodyInit } | null>;
  /** Deletes these images (retention, after their messages' COMMIT); one that is already gone is no error. */
  remove(names: string[]): Promise<void>;
}

export const mediaDir = (ctx: Ctx) => path.join(ctx.config.dataDir, "media");

/** Image types by the name's extension: the name is given when the bytes pass their check (service.ts). */
export const MEDIA_MIME: Record<string, string> = { png: "image/png", jpg: "image/jpeg", gif: "image/gif", webp: "image/webp" };
export const MEDIA_NAME_RE = /^[0-9a-f]{32}\.(png|jpg|gif|webp)$/;
export const mimeForMedia = (name: string) => MEDIA_MIME[name.slice(name.lastIndexOf(".") + 1)] ?? "application/octet-stream";

/** The store of the dialect this process runs on (db/tables.ts). */
export const mediaStore = (ctx: Ctx): MediaStore => (dialect === "pg" ? tableMedia(ctx) : fileMedia(mediaDir(ctx)));

export function fileMedia(dir: string): MediaStore {
  return {
    async put(name, _mime, bytes) {
      privateDir(dir);
      await writeFile(path.join(dir, name), bytes, { mode: FILE_MODE, flag: "wx" });
    },
    async get(name) {
      const file = Bun.file(path.join(dir, name));
      return (await file.exists()) ? { mime: mimeForMedia(name), body: file } : null;
    },
    async remove(names) {
      for (const name of names) await unlink(path.join(dir, name)).catch(() => {});
    },
  };
}

export function tableMedia(ctx: Ctx): MediaStore {
  return {
    async put(name, mime, bytes) {
      const row = { name, mime, bytes: Buffer.from(bytes), createdAt: isoMs(ctx.now()) };
      await ctx.writer.now(async (uow) => {
        await uow.db.insert(media).values(row);
      });
    },
    async get(name) {
      const row = first(await ctx.db.select({ mime: media.mime, bytes: media.bytes }).from(media).where(eq(media.name, name)));
      // The driver's Buffer is backed by a plain ArrayBuffer (never a shared one).
      return row ? { mime: row.mime, body: row.bytes as Uint8Array<ArrayBuffer> } : null;
    },
    async remove(names) {
      if (!names.length) return;
      await ctx.writer.now(async (uow) => {
        await uow.db.delete(media).where(inArray(media.name, names));
      });
    },
  };
}
