// The baselines for bench/ingest.ts: a bare Bun.serve that takes the same agent
// message event (REST: POST with X-Nod-Agent-Id / X-Nod-Secret; WebSocket: an
// auth frame, then message frames answered with an ack), parses it and
//   bun bench/bare-server.ts DIR db       inserts the same message row into bun:sqlite (WAL)
//   bun bench/bare-server.ts DIR pg URL   inserts it into PostgreSQL at URL (Bun.sql, a pool
//                                         the size of nod's, one autocommit INSERT per event)
//   bun bench/bare-server.ts DIR nodb     answers without a database: the HTTP ceiling
// and nothing else: no auth check, no validation beyond the type, no fan-out.
import { Database } from "bun:sqlite";
import { SQL } from "bun";
import path from "node:path";
import { POOL_MAX } from "../server/db/store.ts";

const dir = process.argv[2]!;
const mode = process.argv[3] ?? "db";

const MESSAGES = `(id text primary key, conversation_id text not null, agent_id text not null, role text not null,
    text text not null, image_url text, report_title text, report_description text, task_run_id text, sender_name text, read_at text, created_at text not null)`;
let insert: ((row: Record<string, string>) => void | Promise<unknown>) | null = null;
if (mode === "db") {
  const db = new Database(path.join(dir, "bare.db"), { create: true, strict: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  db.run(`create table if not exists messages ${MESSAGES}`);
  const stmt = db.prepare(
    "insert into messages values ($id, $conversation_id, $agent_id, 'agent', $text, null, null, null, null, null, null, $created_at)",
  );
  insert = (row) => void stmt.run(row);
} else if (mode === "pg") {
  const sql = new SQL(process.argv[4]!, { max: POOL_MAX });
  await sql.unsafe(`create table if not exists messages ${MESSAGES}`);
  insert = (r) =>
    sql`insert into messages values (${r.id}, ${r.conversation_id}, ${r.agent_id}, 'agent', ${r.text}, null, null, null, null, null, null, ${r.created_at})`;
}

let n = 0;
/** The one thing both paths do: a message event becomes a row (or, without a database, an id). */
// SQLite's insert returns at once and PostgreSQL's a promise: the SQLite path stays synchronous (no extra await).
function take(agentId: string, body: { type?: unknown; text?: unknown }): string | Promise<string> {
  if (body.type !== "message" || typeof body.text !== "string") throw new Error("not a message");
  const id = `msg_${Date.now().toString(16)}${(n++).toString(16).padStart(8, "0")}`;
  const written = insert?.({ id, conversation_id: "conv_bench", agent_id: agentId, text: body.text, created_at: new Date().toISOString() });
  return written instanceof Promise ? written.then(() => id) : id;
}
const then = <T>(v: string | Promise<string>, f: (id: string) => T) => (typeof v === "string" ? f(v) : v.then(f));

type Conn = { agentId: string | null };
const server = Bun.serve<Conn>({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(req, server) {
    if (new URL(req.url).pathname === "/ws") {
      if (server.upgrade(req, { data: { agentId: null } })) return;
      return new Response("upgrade failed", { status: 400 });
    }
    const agentId = req.headers.get("x-nod-agent-id");
    if (!agentId || !req.headers.get("x-nod-secret")) return Response.json({ detail: "credentials" }, { status: 401 });
    try {
      return await then(take(agentId, (await req.json()) as any), (id) => Response.json({ status: "ok", message_id: id }));
    } catch {
      return Response.json({ detail: "body" }, { status: 400 });
    }
  },
  websocket: {
    message(ws, raw) {
      const f = JSON.parse(String(raw));
      if (ws.data.agentId === null) {
        ws.data.agentId = f.agent_id;
        return void ws.send(JSON.stringify({ type: "auth_ok", session_id: "sess_bare" }));
      }
      void then(take(ws.data.agentId!, f), (id) => ws.send(JSON.stringify({ type: "ack", request_id: f.request_id, status: "ok", message_id: id })));
    },
  },
});
console.log(`bare listening on http://127.0.0.1:${server.port}`);
