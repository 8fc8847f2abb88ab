// Every answer is checked against its route's response schema as it is sent.
import { expect, test } from "bun:test";
import { Elysia, t } from "elysia";
import { makeConfig } from "../server/config.ts";
import { httpBasics } from "../server/http.ts";
import { Logger } from "../server/lib/log.ts";
import type { Ctx } from "../server/context.ts";

test("an answer that does not fit its route's response schema is nod's bug: 500, logged, not a 400", async () => {
  const lines: string[] = [];
  const log = new Logger("error");
  log.error = (msg: string) => void lines.push(msg);
  const ctx = { config: makeConfig({ dataDir: "/nonexistent" }), log } as unknown as Ctx;
  const app = new Elysia()
    .use(httpBasics(ctx))
    .get("/wrong", () => ({ id: 42 }) as unknown as { id: string }, { response: { 200: t.Object({ id: t.String() }) } })
    .listen({ port: 0, hostname: "127.0.0.1" });
  try {
    const res = await fetch(`http://127.0.0.1:${app.server!.port}/wrong`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ detail: "internal error" });
    expect(lines).toEqual(["unhandled error"]);
  } finally {
    await app.stop(true);
  }
});
