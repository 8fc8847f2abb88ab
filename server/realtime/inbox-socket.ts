// A person's live inbox socket (/ws/app). It subscribes to the shared inbox
// topic, so every frame the services publish (hub.toInbox) reaches every open
// tab, serialized once by Bun. On connect it gets a "hello" snapshot.
import type { ServerWebSocket } from "bun";
import type { Ctx } from "../context.ts";
import { publicUser, type User } from "../auth/service.ts";
import { INBOX_TOPIC } from "./hub.ts";

type WS = ServerWebSocket<InboxConnection>;

export class InboxConnection {
  constructor(
    private ctx: Ctx,
    readonly user: User,
  ) {}

  open(ws: WS) {
    // Subscribe and greet in the same turn: no frame can slip in between.
    ws.subscribe(INBOX_TOPIC);
    ws.send(
      JSON.stringify({
        type: "hello",
        user: publicUser(this.user),
        online: this.ctx.presence.onlineIds(),
        processing: this.ctx.processing.snapshot(),
      }),
    );
  }

  /** The inbox only listens; a {"type":"ping"} gets a pong (for clients that want an application-level check). */
  message(ws: WS, raw: string | Buffer) {
    const text = typeof raw === "string" ? raw : raw.toString("utf8");
    if (text.length > 1000) return;
    try {
      const f = JSON.parse(text) as { type?: unknown };
      if (f && f.type === "ping") ws.send('{"type":"pong"}');
    } catch {}
  }

  close(_ws: WS) {}
}
