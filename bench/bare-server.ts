// The baseline for bench/ingest.ts: a bare Bun.serve that parses the same JSON
// body and inserts the same message row into bun:sqlite (WAL), nothing else.
import { Database } from "bun:sqlite";
import path from "node:path";

const dir = process.argv[2]!;
const db = new Database(path.join(dir, "bare.db"), { create: true, strict: true });
db.run("PRAGMA journal_mode = WAL");
db.run("PRAGMA synchronous = NORMAL");
db.run(`create table if not exists messages (id text primary key, conversation_id text not null, agent_id text not null, role text not null,
  text text not null, image_url text, report_title text, report_description text, task_run_id text, sender_name text, read_at text, created_at text not null)`);
const insert = db.prepare(
  "insert into messages values ($id, $conversation_id, $agent_id, 'agent', $text, null, null, null, null, null, null, $created_at)",
);
let n = 0;
const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(req) {
    const body = (await req.json()) as { text: string };
    const id = `msg_${Date.now().toString(16)}${(n++).toString(16).padStart(8, "0")}`;
    insert.run({ id, conversation_id: "conv_bench", agent_id: req.headers.get("x-nod-agent-id") ?? "agt_bench", text: body.text, created_at: new Date().toISOString() });
    return Response.json({ status: "ok", message_id: id });
  },
});
console.log(`bare listening on http://127.0.0.1:${server.port}`);
