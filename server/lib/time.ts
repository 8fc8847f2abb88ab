// Times travel as ISO 8601 UTC strings without milliseconds: 2026-11-23T09:00:00Z.
export const iso = (d: Date | number = Date.now()) => new Date(d).toISOString().replace(/\.\d{3}Z$/, "Z");
// Stored times keep milliseconds so that ordering within a second is right.
export const isoMs = (d: Date | number = Date.now()) => new Date(d).toISOString();
export function toApiTime(s: string): string;
export function toApiTime(s: string | null | undefined): string | null;
export function toApiTime(s: string | null | undefined) {
  if (!s) return null;
  // The stored form (2026-11-23T09:00:00.123Z) by slicing: every frame and list item calls this.
  if (s.length === 24 && s.charCodeAt(19) === 46 /* . */ && s.charCodeAt(23) === 90 /* Z */) return s.slice(0, 19) + "Z";
  return s.replace(/\.\d{3}Z$/, "Z");
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "30s", "10m", "1h", "500ms", "2d"; a bare number is seconds. Null when malformed. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) return null;
  return Math.round(Number(m[1]) * UNITS[m[2] ?? "s"]!);
}
