// Schedules: a cron expression (5 fields, or 6 with seconds) read in the task's
// IANA time zone, "once" (at run_at, default now) or "event" (a webhook call).
// Parsing, the next slot after a time, and a human description for the inbox.
import { Cron } from "croner";
import { badRequest } from "../lib/errors.ts";

export type TriggerType = "scheduled" | "once" | "event";

export interface ParsedSchedule {
  schedule: string; // as stored: the cron expression (whitespace tidied), "once" or "event"
  triggerType: TriggerType;
  timezone: string; // canonical IANA name
}

/** The canonical IANA name, or 400 naming the field. Empty or missing means UTC. */
export function checkTimezone(tz: string | null | undefined, field = "timezone"): string {
  if (tz === undefined || tz === null || tz.trim() === "") return "UTC";
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: tz.trim() }).resolvedOptions().timeZone;
  } catch {
    throw badRequest(`${field}: unknown time zone ${JSON.stringify(tz)} (use an IANA name such as Europe/Berlin or UTC)`);
  }
}

// One parsed Cron per (expression, zone): thousands of tasks usually share a few.
const crons = new Map<string, Cron>();

function cronFor(expr: string, tz: string): Cron {
  const key = tz + "\u0000" + expr;
  let c = crons.get(key);
  if (!c) {
    if (crons.size > 10_000) crons.clear();
    c = new Cron(expr, { paused: true, timezone: tz, mode: "5-or-6-parts" });
    crons.set(key, c);
  }
  return c;
}

/** Checks a schedule; 400 naming `field` (and the problem) when it is not one nod can run. */
export function parseSchedule(schedule: string, timezone: string | null | undefined, field = "schedule", tzField = "timezone"): ParsedSchedule {
  const tz = checkTimezone(timezone, tzField);
  const s = schedule.trim().replace(/\s+/g, " ");
  const lower = s.toLowerCase();
  if (lower === "once") return { schedule: "once", triggerType: "once", timezone: tz };
  if (lower === "event") return { schedule: "event", triggerType: "event", timezone: tz };
  let cron: Cron;
  try {
    cron = cronFor(s, tz);
  } catch (e) {
    const why = String((e as Error).message ?? e).replace(/^Cron\w*:\s*/, "");
    throw badRequest(`${field}: invalid cron expression ${JSON.stringify(s)}: ${why} (expected 5 fields, or 6 with seconds, "once" or "event")`);
  }
  if (!cron.nextRun(new Date())) throw badRequest(`${field}: cron expression ${JSON.stringify(s)} never fires`);
  return { schedule: s, triggerType: "scheduled", timezone: tz };
}

/** The first slot strictly after `afterMs`, in ms, or null when the cron never fires again. */
export function nextSlot(expr: string, tz: string, afterMs: number): number | null {
  const d = cronFor(expr, tz).nextRun(new Date(afterMs));
  return d ? d.getTime() : null;
}

export function nextSlots(expr: string, tz: string, afterMs: number, n: number): number[] {
  return cronFor(expr, tz).nextRuns(n, new Date(afterMs)).map((d) => d.getTime());
}

// ---- run_at: an ISO time; without an offset it is read in the task's zone ----

const NAIVE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?$/;

/** Parses run_at; a time without Z or an offset is a wall-clock time in `tz`. 400 when malformed. */
export function parseRunAt(text: string, tz: string, field = "run_at"): number {
  const s = text.trim();
  const m = NAIVE.exec(s);
  if (m) {
    const [y, mo, d, h, mi, sec] = m.slice(1).map((v) => Number(v ?? 0)) as [number, number, number, number, number, number];
    const ms = wallToUtc(y, mo, d, h, mi, sec, tz);
    if (!Number.isNaN(ms)) return ms;
  } else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(s)) {
    const ms = Date.parse(s);
    if (!Number.isNaN(ms)) return ms;
  }
  throw badRequest(`${field}: not an ISO 8601 time ${JSON.stringify(text)} (e.g. 2026-11-23T09:00:00Z)`);
}

const partsFmt = new Map<string, Intl.DateTimeFormat>();
function zoneOffsetMs(tz: string, atMs: number): number {
  let f = partsFmt.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    partsFmt.set(tz, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(new Date(atMs))) if (part.type !== "literal") p[part.type] = Number(part.value);
  const asUtc = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
  return asUtc - Math.floor(atMs / 1000) * 1000;
}

function wallToUtc(y: number, mo: number, d: number, h: number, mi: number, s: number, tz: string): number {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return NaN;
  const guess = Date.UTC(y, mo - 1, d, h, mi, s);
  let ms = guess - zoneOffsetMs(tz, guess);
  ms = guess - zoneOffsetMs(tz, ms); // once more, for a DST change between guess and result
  return ms;
}

// ---- human descriptions ("every weekday at 09:00") ----

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const NICK: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

const num = (f: string) => (/^\d+$/.test(f) ? Number(f) : null);
const list = (f: string) => (/^\d+(,\d+)*$/.test(f) ? f.split(",").map(Number) : null);
const step = (f: string) => {
  const m = /^(?:\*|0)\/(\d+)$/.exec(f);
  return m ? Number(m[1]) : null;
};
const pad = (n: number) => String(n).padStart(2, "0");
const and = (xs: string[]) => (xs.length <= 1 ? xs.join("") : `${xs.slice(0, -1).join(", ")} and ${xs[xs.length - 1]}`);
const plural = (n: number, unit: string) => (n === 1 ? `every ${unit}` : `every ${n} ${unit}s`);

function describeDays(dom: string, mon: string, dow: string): string | null {
  const anyDom = dom === "*" || dom === "?";
  const anyDow = dow === "*" || dow === "?";
  const dows = dow === "1-5" ? "weekday" : dow === "0,6" || dow === "6,0" || dow === "6-7" ? "weekend" : null;
  if (mon === "*") {
    if (anyDom && anyDow) return "every day";
    if (anyDom && dows === "weekday") return "every weekday";
    if (anyDom && dows === "weekend") return "every Saturday and Sunday";
    if (anyDom) {
      const ds = list(dow);
      if (ds && ds.every((d) => d >= 0 && d <= 7)) return `every ${and(ds.map((d) => DAYS[d % 7]!))}`;
      const r = /^(\d)-(\d)$/.exec(dow);
      if (r) return `every ${DAYS[Number(r[1]) % 7]} to ${DAYS[Number(r[2]) % 7]}`;
      return null;
    }
    if (anyDow) {
      const ds = list(dom);
      if (ds) return `on day ${and(ds.map(String))} of every month`;
      if (dom === "L") return "on the last day of every month";
      return null;
    }
    return null;
  }
  const ms = list(mon);
  const ds = list(dom);
  if (ms && ds && ds.length === 1 && anyDow) return `every year on ${and(ms.map((m) => `${ds[0]} ${MONTHS[m - 1]}`))}`;
  return null;
}

/** A short English description of a cron expression, or null when it is too unusual to put in words. */
export function describeCron(expr: string): string | null {
  const parts = (NICK[expr.toLowerCase()] ?? expr).split(" ");
  if (parts.length !== 5 && parts.length !== 6) return null;
  const [sec, min, hour, dom, mon, dow] = (parts.length === 6 ? parts : ["0", ...parts]) as [string, string, string, string, string, string];
  const everyDay = dom === "*" && mon === "*" && (dow === "*" || dow === "?");
  // sub-minute
  if (parts.length === 6 && num(sec) === null) {
    if (min === "*" && hour === "*" && everyDay) {
      if (sec === "*") return "every second";
      const n = step(sec);
      if (n) return plural(n, "second");
    }
    return null;
  }
  const s = num(sec) ?? 0;
  const days = describeDays(dom, mon, dow);
  if (!days) return null;
  const daysSuffix = days === "every day" ? "" : days === "every weekday" ? " on weekdays" : days.startsWith("every ") ? ` on ${days.slice(6)}` : ` ${days}`;
  if (min === "*" && hour === "*") return `every minute${daysSuffix}`;
  const mStep = step(min);
  if (mStep && hour === "*") return `${plural(mStep, "minute")}${daysSuffix}`;
  const m = num(min);
  if (m !== null && hour === "*") return `every hour at minute ${m}${s ? `:${pad(s)}` : ""}${daysSuffix}`;
  const hStep = step(hour);
  if (m !== null && hStep) return `${plural(hStep, "hour")}${m ? ` at minute ${m}` : ""}${daysSuffix}`;
  const hs = list(hour);
  const msList = list(min);
  if (hs && msList) {
    const times: string[] = [];
    for (const h of hs) for (const mm of msList) times.push(`${pad(h)}:${pad(mm)}${s ? `:${pad(s)}` : ""}`);
    if (times.length > 6) return null;
    return `${days} at ${and(times)}`;
  }
  return null;
}

/** How people read a schedule: "every weekday at 09:00", "once, at …", "when its webhook is called". */
export function describeSchedule(p: ParsedSchedule, runAtMs: number | null): string {
  if (p.triggerType === "event") return "each time its webhook is called";
  if (p.triggerType === "once") return runAtMs === null ? "once, now" : `once, at ${new Date(runAtMs).toISOString().replace(/\.\d{3}Z$/, "Z")}`;
  return describeCron(p.schedule) ?? `on cron schedule "${p.schedule}"`;
}

// Every task frame carries its schedule in words: the scheduler sends one per task it fires,
// and a hundred thousand tasks share a handful of schedules. Kept (bounded) once worked out.
const words = new Map<string, string>();

/** A schedule as stored on a task or written in a proposal ("once", "event" or cron), in words. */
export function scheduleWords(schedule: string, runAt: string | null = null): string {
  const key = runAt ? `${schedule}\u0000${runAt}` : schedule;
  let w = words.get(key);
  if (w === undefined) {
    const triggerType = schedule === "once" ? "once" : schedule === "event" ? "event" : "scheduled";
    w = describeSchedule({ schedule, triggerType, timezone: "UTC" }, runAt ? Date.parse(runAt) : null);
    if (words.size >= 10_000) words.clear();
    words.set(key, w);
  }
  return w;
}
