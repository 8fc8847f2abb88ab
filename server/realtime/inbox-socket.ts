// A person's live inbox socket (/ws/app). It subscribes to the shared inbox
// topic, so every frame committed writes declare (uow.toInbox) reaches every open
// tab, serialized once by Bun. On connect it gets a "hello" snapshot.
import type { ServerWebSocket } from "bun";
import type { Ctx } from "../context.ts";
import { publicUser, userForSession, type User } from "../auth/service.ts";
import { INBOX_TOPIC } from "./hub.ts";
import { sha256hex } from "../lib/secrets.ts";

type WS = ServerWebSocket<InboxConnection>;

/** Close code for an inbox socket whose session was signed out or expired (the app then shows sign-in). */
export const SESSION_ENDED = 4401;

/** The open inbox sockets of one server, so that ended sessions can be closed. */
export class InboxSockets {
  private open = new Set<WS>();
  add(ws: WS) {
    this.open.add(ws);
  }
  delete(ws: WS) {
    this.open.delete(ws);
  }
  /** Closes every inbox socket (the server is stopping). */
  closeAll(code = 1001, reason = "server shutting down") {
    for (const ws of this.open) ws.close(code, reason);
  }
  /** Closes the sockets of a session that was signed out (by its token's hash, as effects name it). */
  closeSession(tokenHash: string) {
    for (const ws of this.open) if (ws.data.tokenHash === tokenHash) ws.close(SESSION_ENDED, "signed out");
  }
  /** Sends every open inbox a new "hello" (what it shows is refetched, as after a reconnect). */
  helloAgain() {
    for (const ws of this.open) ws.data.hello(ws);
  }
  /** Closes every socket whose session no longer signs anybody in (expired ones). */
  async sweep(ctx: Ctx) {
    const now = ctx.now();
    for (const ws of [...this.open]) {
      let ok = false;
      try {
        ok = (await userForSession(ctx.db, ws.data.token, now)) !== null;
      } catch {
        return; // the database is closing
      }
      if (!ok) ws.close(SESSION_ENDED, "session ended");
    }
  }
}

export class InboxConnection {
  readonly tokenHash: string | undefined;
  constructor(
    private ctx: Ctx,
    readonly user: User,
    readonly token: string | undefined,
    private registry: InboxSockets,
  ) {
    this.tokenHash = token === undefined ? undefined : sha256hex(token);
  }

  open(ws: WS) {
    this.registry.add(ws);
    // Subscribe and greet in the same turn: no frame can slip in between.
    ws.subscribe(INBOX_TOPIC);
    this.hello(ws);
  }

  /** The snapshot a new inbox starts from: who is online, what is "Thinking…". */
  hello(ws: WS) {
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

  close(ws: WS) {
    this.registry.delete(ws);
  }
}
