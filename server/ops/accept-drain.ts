// The last resort when the process is out of file descriptors anyway (a flood
// of plain HTTP connections; agent sockets stop short of the limit, see
// socket-budget.ts).
//
// What Bun 1.4.5 does there (measured, docs/performance.md): its listening
// socket stays readable while connections wait in the kernel's backlog, every
// accept() fails with EMFILE, and the event loop spins on it (thousands of
// failed accepts a second, most of a core) while every new connection, /healthz
// included, hangs until a descriptor frees up. Bun's own fix (a spare
// descriptor, and a back-off) is not released yet.
//
// nod does the spare-descriptor half itself: it keeps one descriptor open,
// and every DRAIN_EVERY_MS checks whether a new one can still be opened. When
// it cannot, it closes the spare, accepts what waits on the listening socket
// and answers each connection a short 503 {"detail"} with Retry-After, closes
// it, and takes the spare back. Waiting clients get an answer instead of
// hanging, and the spinning stops once the backlog is empty. Linux only (the
// listening socket is found through /proc); elsewhere this does nothing.
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { ptr } from "bun:ffi";
import { getLibc } from "./fd-limit.ts";

export const DRAIN_EVERY_MS = 250;
const MAX_PER_TICK = 2000; // the loop is never held longer than this many accepts
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const O_NONBLOCK = 0o4000;

const BODY = JSON.stringify({ detail: "server busy: too many open connections, try again later" });
const RESPONSE = Buffer.from(
  "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 30\r\nconnection: close\r\n" +
    `content-length: ${Buffer.byteLength(BODY)}\r\n\r\n${BODY}`,
);

/** The descriptors of this process listening on TCP `port` (non-blocking ones only), from /proc. */
export function listeningFds(port: number): number[] {
  const hex = ":" + port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const col = line.trim().split(/\s+/);
      // local_address ends with the port; state 0A is LISTEN; column 9 is the inode.
      if (col.length > 9 && col[3] === "0A" && col[1]!.endsWith(hex)) inodes.add(col[9]!);
    }
  }
  if (!inodes.size) return [];
  const fds: number[] = [];
  for (const name of readdirSync("/proc/self/fd")) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${name}`));
      if (!m || !inodes.has(m[1]!)) continue;
      // accept() on a blocking socket could hold the event loop: only drain non-blocking ones.
      const flags = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${name}`, "utf8"));
      if (flags && (parseInt(flags[1]!, 8) & O_NONBLOCK)) fds.push(Number(name));
    } catch {}
  }
  return fds;
}

export class AcceptDrain {
  private timer: ReturnType<typeof setInterval> | null = null;
  private spare: number | null = null;
  private listenFds: number[] = [];
  private scratch = Buffer.alloc(16 * 1024);

  /** onShed: how many waiting connections were just answered 503. */
  constructor(private onShed: (n: number) => void) {}

  /** Starts watching the listening socket on `port`; false where that is not possible. */
  start(port: number): boolean {
    const c = getLibc();
    if (process.platform !== "linux" || !c || !("accept4" in c)) return false;
    try {
      this.listenFds = listeningFds(port);
      if (!this.listenFds.length) return false;
      this.spare = openSync("/dev/null", "r");
    } catch {
      return false;
    }
    this.timer = setInterval(() => this.check(), DRAIN_EVERY_MS);
    this.timer.unref?.();
    return true;
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.spare !== null) closeSync(this.spare);
    this.spare = null;
  }

  /** Drains the backlog when no descriptor is left. Never throws. */
  check() {
    try {
      if (this.spare === null) this.spare = openSync("/dev/null", "r");
      else closeSync(openSync("/dev/null", "r"));
      return; // a descriptor could be opened: Bun accepts by itself
    } catch {}
    const c = getLibc();
    if (!c || !("accept4" in c)) return;
    let shed = 0;
    try {
      if (this.spare !== null) closeSync(this.spare);
      this.spare = null;
      for (const lfd of this.listenFds) {
        while (shed < MAX_PER_TICK) {
          const fd = c.accept4(lfd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break; // the backlog is empty (or still no descriptor)
          // Read what the client sent already, so closing does not reset the connection before it reads the answer.
          c.recv(fd, ptr(this.scratch), this.scratch.length, MSG_DONTWAIT);
          c.send(fd, ptr(RESPONSE), RESPONSE.length, MSG_DONTWAIT | MSG_NOSIGNAL);
          c.close(fd);
          shed++;
        }
      }
    } catch {}
    try {
      this.spare = openSync("/dev/null", "r");
    } catch {
      this.spare = null; // taken again on a later check
    }
    if (shed) this.onShed(shed);
  }
}
