// nod on PostgreSQL: images live in the media table (MediaStore) and are
// served as on SQLite.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { SQL } from "bun";
import { existsSync } from "node:fs";
import path from "node:path";
import { Elysia } from "elysia";
import { drizzle as pgDrizzle } from "drizzle-orm/bun-sql";
import * as pgSchema from "../server/db/schema-pg.ts";
import { migratePg } from "../server/db/pg-migrate.ts";
import { useDialect } from "../server/db/tables.ts";
import { makeConfig } from "../server/config.ts";
import type { Ctx } from "../server/context.ts";
import { httpBasics } from "../server/http.ts";
import { Logger } from "../server/lib/log.ts";
import { mediaRoutes } from "../server/media/public.ts";
import { storeImage } from "../server/media/service.ts";
import { PNG_1x1, tempDir } from "./helpers.ts";
import { describePg, freshDatabase } from "./pg-helpers.ts";

setDefaultTimeout(60_000); // a hang guard (a server, subprocesses, databases), never a time check

describePg("images on PostgreSQL (MediaStore)", () => {
  let target: Awaited<ReturnType<typeof freshDatabase>>;
  let client: SQL;
  beforeAll(async () => {
    target = await freshDatabase();
    client = new SQL(target.url, { max: 2 });
    await migratePg(client);
    useDialect("pg");
  });
  afterAll(async () => {
    useDialect("sqlite");
    await client?.close();
    await target?.drop();
  });

  test("an image is stored in the media table, served with the same headers as on SQLite, and an unknown name is 404", async () => {
    const db = pgDrizzle({ client, schema: pgSchema });
    const dataDir = tempDir();
    // The PostgreSQL store's writer is built on another branch: a unit of work here is one transaction.
    const writer = { now: (fn: (uow: { db: unknown }) => Promise<unknown>) => db.transaction((tx) => fn({ db: tx })) };
    const ctx = { config: makeConfig({ dataDir, publicUrl: "https://nod.example.com" }), db, writer, log: new Logger("error"), now: () => Date.now() } as unknown as Ctx;
    const url = await storeImage(ctx, `data:image/png;base64,${PNG_1x1}`);
    expect(url).toMatch(/^https:\/\/nod\.example\.com\/media\/[0-9a-f]{32}\.png$/);
    const name = url.slice(url.lastIndexOf("/") + 1);
    expect(existsSync(path.join(dataDir, "media"))).toBe(false); // no file: instances share no disk
    const [row] = await client`SELECT mime, octet_length(bytes)::int AS size FROM media WHERE name = ${name}`;
    expect(row).toEqual({ mime: "image/png", size: Buffer.from(PNG_1x1, "base64").length });

    const app = new Elysia().use(httpBasics(ctx)).use(mediaRoutes(ctx));
    const res = await app.handle(new Request(`http://localhost/media/${name}`));
    expect(res.status).toBe(200);
    expect(Object.fromEntries(["content-type", "cache-control", "x-content-type-options", "content-security-policy"].map((h) => [h, res.headers.get(h)]))).toEqual({
      "content-type": "image/png",
      "cache-control": "public, max-age=31536000, immutable",
      "x-content-type-options": "nosniff",
      "content-security-policy": "default-src 'none'; sandbox",
    });
    expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(PNG_1x1, "base64"))).toBe(true);
    const missing = await app.handle(new Request(`http://localhost/media/${"0".repeat(32)}.png`));
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ detail: "file not found" });
    expect((await app.handle(new Request("http://localhost/media/..%2fnod.db"))).status).toBe(404);
    // Not an image: refused before anything is stored.
    await expect(storeImage(ctx, Buffer.from("<svg/>").toString("base64"))).rejects.toMatchObject({ status: 400 });
    expect((await client`SELECT count(*)::int AS n FROM media`)[0].n).toBe(1);
  });
});

