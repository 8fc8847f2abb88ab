// A small leveled logger that writes lines like
//   2026-11-23T09:00:00Z INFO  listening on http://0.0.0.0:8000
// to stderr (stdout is kept for the ready line and command output); with
// --instance, each line ends with instance=NAME.
export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
export const LOG_LEVELS = Object.keys(ORDER) as LogLevel[];

export class Logger {
  /** Fields that end every line (tag()). */
  private tags: [string, unknown][] = [];

  /** out: where each line goes (stderr; tests pass a collector). */
  constructor(
    public level: LogLevel = "info",
    private out: (line: string) => void = (line) => void process.stderr.write(line),
  ) {}

  /** Adds fields to the end of every line from now on (`instance=web-2` when several instances log to one place). */
  tag(fields: Record<string, unknown>) {
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) this.tags.push([k, v]);
  }

  enabled(level: LogLevel) {
    return ORDER[level] >= ORDER[this.level];
  }
  // Logging never throws: a field that cannot be formatted, or a closed stderr,
  // must not fail the request or the loop that logged.
  private write(level: LogLevel, msg: string, fields?: Record<string, unknown>) {
    try {
      if (!this.enabled(level)) return;
      let line = `${new Date().toISOString().replace(/\.\d{3}Z$/, "Z")} ${level.toUpperCase().padEnd(5)} ${escapeControls(msg)}`;
      if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${escapeControls(k)}=${fmt(v)}`;
      for (const [k, v] of this.tags) if (!fields || fields[k] === undefined) line += ` ${escapeControls(k)}=${fmt(v)}`;
      this.out(line + "\n");
    } catch {}
  }
  debug(msg: string, fields?: Record<string, unknown>) { this.write("debug", msg, fields); }
  info(msg: string, fields?: Record<string, unknown>) { this.write("info", msg, fields); }
  warn(msg: string, fields?: Record<string, unknown>) { this.write("warn", msg, fields); }
  error(msg: string, fields?: Record<string, unknown>) { this.write("error", msg, fields); }
}

// Characters a terminal acts on instead of showing: C0 (ESC, BEL, CR…), DEL, C1,
// line/paragraph separators and the bidi controls that reorder what follows.
// A username or path from a request must not rewrite the screen of whoever tails the log.
const CONTROLS = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// Shown as is: no space, quote, "=" or backslash (so "\u001b" in a line is always an escape), no control.
const PLAIN = /^[^\s"=\\\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$/;

export const escapeControls = (s: string) => s.replace(CONTROLS, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));

function fmt(v: unknown): string {
  let s: string;
  if (v instanceof Error) s = JSON.stringify(v.stack ?? v.message);
  else if (typeof v === "string") s = PLAIN.test(v) ? v : JSON.stringify(v);
  else s = safeJson(v);
  return escapeControls(s);
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return JSON.stringify(String(v)); // a BigInt, a cycle
  }
}
