// Counters and gauges for /metrics (Prometheus text format). Modules count
// what they do here; the metrics route renders it.
type Labels = Record<string, string>;

/** A label's value as the text format writes it: backslash, quote and newline escaped. */
export const labelValue = (v: string) => v.replace(/["\\\n]/g, (c) => (c === "\n" ? "\\n" : "\\" + c));

const key = (labels: Labels) =>
  Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${labelValue(v)}"`)
    .join(",");

export class Metrics {
  private counters = new Map<string, { help: string; values: Map<string, number> }>();
  private gauges = new Map<string, { help: string; read: () => number }>();

  /** Adds n to a counter (created on first use). */
  inc(name: string, help: string, labels: Labels = {}, n = 1) {
    let c = this.counters.get(name);
    if (!c) this.counters.set(name, (c = { help, values: new Map() }));
    const k = key(labels);
    c.values.set(k, (c.values.get(k) ?? 0) + n);
  }

  /** A value read when /metrics is scraped. */
  gauge(name: string, help: string, read: () => number) {
    this.gauges.set(name, { help, read });
  }

  render(): string {
    let out = "";
    for (const [name, c] of this.counters) {
      out += `# HELP ${name} ${c.help}\n# TYPE ${name} counter\n`;
      for (const [k, v] of c.values) out += `${name}${k ? `{${k}}` : ""} ${v}\n`;
    }
    for (const [name, g] of this.gauges) out += `# HELP ${name} ${g.help}\n# TYPE ${name} gauge\n${name} ${g.read()}\n`;
    return out;
  }
}
