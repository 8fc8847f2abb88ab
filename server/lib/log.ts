// A small leveled logger that writes lines like
//   2026-11-23T09:00:00Z INFO  listening on http://0.0.0.0:8000
// to stderr (stdout is kept for the ready line and command output).
export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
export const LOG_LEVELS = Object.keys(ORDER) as LogLevel[];

export class Logger {
  constructor(public level: LogLevel = "info") {}

  enabled(level: LogLevel) {
    return ORDER[level] >= ORDER[this.level];
  }
  private write(level: LogLevel, msg: string, fields?: Record<string, unknown>) {
    if (!this.enabled(level)) return;
    let line = `${new Date().toISOString().replace(/\.\d{3}Z$/, "Z")} ${level.toUpperCase().padEnd(5)} ${msg}`;
    if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${k}=${fmt(v)}`;
    process.stderr.write(line + "\n");
  }
  debug(msg: string, fields?: Record<string, unknown>) { this.write("debug", msg, fields); }
  info(msg: string, fields?: Record<string, unknown>) { this.write("info", msg, fields); }
  warn(msg: string, fields?: Record<string, unknown>) { this.write("warn", msg, fields); }
  error(msg: string, fields?: Record<string, unknown>) { this.write("error", msg, fields); }
}

function fmt(v: unknown): string {
  if (v instanceof Error) return JSON.stringify(v.stack ?? v.message);
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}
