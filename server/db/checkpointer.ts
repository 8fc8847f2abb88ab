// WAL checkpoints off the event loop. In WAL mode SQLite appends each commit
// to nod.db-wal and, by default, the commit that finds the WAL over 1,000
// pages copies them back into nod.db and syncs both files: a stall of
// milliseconds, more under a burst, on whatever request or batch happened to
// commit then. Measured, those checkpoints were a third of the scheduler's
// cost per run. Here a worker thread with its own connection checkpoints
// every CHECKPOINT_EVERY_MS (PASSIVE: it never waits for, nor blocks, the
// server's reads and writes), and the server's connection stops checkpointing
// once the worker is running. If the worker cannot start or dies, the
// server's connection checkpoints itself again. Durability is unchanged:
// what is in the WAL is committed; checkpoints only move it.
import type { Db } from "./index.ts";

export const CHECKPOINT_EVERY_MS = 250;
/** The WAL file is cut back to this size when it is reset (else it keeps the size of its largest burst). */
const WAL_SIZE_LIMIT = 64 * 1024 * 1024;

// The worker's code, inline: a compiled nod has no separate file to start a worker from.
const WORKER = `
import { Database } from "bun:sqlite";
let db = null;
let timer = null;
let checkpoint = null;
self.onmessage = (e) => {
  const m = e.data;
  if (m.open) {
    try {
      db = new Database(m.open);
      db.run("PRAGMA busy_timeout = 1000");
      checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
      timer = setInterval(() => {
        try { checkpoint.get(); } catch (err) { postMessage({ error: String(err) }); }
      }, m.everyMs);
      postMessage({ ready: true });
    } catch (err) {
      postMessage({ error: String(err) });
    }
  } else if (m.close) {
    clearInterval(timer);
    // An unfinalized statement would leave this connection open as a zombie, and the
    // server's close would then not be the last one, so the WAL would stay behind.
    try { checkpoint?.finalize(); db?.close(); } catch {}
    postMessage({ closed: true });
  }
};
`;

let workerUrl: string | null = null;

export class Checkpointer {
  private worker: Worker | null = null;
  private closed: Promise<void> | null = null;

  constructor(
    private db: Db,
    private file: string,
    private onError: (detail: string) => void = () => {},
  ) {}

  start() {
    const sqlite = this.db.$client;
    sqlite.run(`PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT}`);
    try {
      workerUrl ??= URL.createObjectURL(new Blob([WORKER], { type: "application/javascript" }));
      const w = new Worker(workerUrl);
      this.worker = w;
      w.onmessage = (e: MessageEvent) => {
        const m = e.data as { ready?: boolean; error?: string };
        if (m.ready && this.worker === w) sqlite.run("PRAGMA wal_autocheckpoint = 0");
        if (m.error) this.fallBack(`WAL checkpoint worker: ${m.error}`);
      };
      w.onerror = (e) => this.fallBack(`WAL checkpoint worker failed: ${(e as ErrorEvent).message}`);
      w.postMessage({ open: this.file, everyMs: CHECKPOINT_EVERY_MS });
    } catch (e) {
      this.fallBack(`WAL checkpoint worker could not start: ${String(e)}`);
    }
  }

  /** The server's own connection checkpoints again (as SQLite does by default). */
  private fallBack(detail: string) {
    try {
      this.db.$client.run("PRAGMA wal_autocheckpoint = 1000");
    } catch {} // the database is closing
    this.onError(detail);
  }

  /** Closes the worker's connection, then the worker (before the server's connection closes: the last one out checkpoints). */
  stop(): Promise<void> {
    const w = this.worker;
    if (!w) return Promise.resolve();
    this.worker = null;
    this.closed ??= new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        w.terminate();
        resolve();
      };
      const timer = setTimeout(done, 2000); // a worker that does not answer is stopped anyway
      w.onmessage = (e: MessageEvent) => {
        if ((e.data as { closed?: boolean }).closed) done();
      };
      w.onerror = done;
      w.postMessage({ close: true });
    });
    return this.closed;
  }
}
