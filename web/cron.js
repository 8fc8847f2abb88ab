// Cron expressions in words, for the common shapes ("every weekday at 09:00").
// Anything unusual falls back to the expression itself.
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const pad = (n) => String(n).padStart(2, "0");
const isNum = (s) => /^\d+$/.test(s);

function days(dow) {
  if (dow === "*" || dow === "?") return "every day";
  const d = dow.toUpperCase();
  if (d === "1-5" || d === "MON-FRI") return "every weekday";
  if (d === "0,6" || d === "6,0" || d === "SAT,SUN" || d === "SUN,SAT") return "every weekend day";
  const names = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
  const one = (x) => {
    const i = isNum(x) ? Number(x) % 7 : names.indexOf(x);
    return i >= 0 ? DAYS[i] : null;
  };
  if (/^[\w]+-[\w]+$/.test(d)) {
    const [a, b] = d.split("-").map(one);
    return a && b ? `every ${a} to ${b}` : null;
  }
  const list = d.split(",").map(one);
  if (list.some((x) => !x)) return null;
  return `every ${list.length > 1 ? list.slice(0, -1).join(", ") + " and " + list.at(-1) : list[0]}`;
}

export function describeCron(expr) {
  if (!expr) return "";
  if (expr === "once") return "once";
  if (expr === "event") return "when its trigger URL is called";
  let f = expr.trim().split(/\s+/);
  if (f.length === 6) {
    if (f[0] !== "0") return `cron ${expr}`;
    f = f.slice(1);
  }
  if (f.length !== 5) return `cron ${expr}`;
  const [min, hour, dom, mon, dow] = f;
  let m;
  if (dom === "*" && mon === "*" && dow === "*") {
    if (min === "*" && hour === "*") return "every minute";
    if ((m = min.match(/^\*\/(\d+)$/)) && hour === "*") return `every ${m[1]} minutes`;
    if (isNum(min) && hour === "*") return min === "0" ? "every hour" : `every hour at :${pad(min)}`;
    if (isNum(min) && (m = hour.match(/^(?:\*|0)\/(\d+)$/))) return `every ${m[1]} hours${min !== "0" ? ` at :${pad(min)}` : ""}`;
  }
  if (!isNum(min)) return `cron ${expr}`;
  const hours = hour.split(",");
  if (!hours.every(isNum)) return `cron ${expr}`;
  const at = "at " + hours.map((h) => `${pad(h)}:${pad(min)}`).join(" and ");
  if (mon === "*" && dom === "*") {
    const d = days(dow);
    return d ? `${d} ${at}` : `cron ${expr}`;
  }
  if (dow === "*" && isNum(dom)) {
    if (mon === "*") return `on day ${dom} of every month ${at}`;
    if (isNum(mon) && MONTHS[mon - 1]) return `every ${MONTHS[mon - 1]} ${dom} ${at}`;
  }
  return `cron ${expr}`;
}

/** A task's schedule in words: the server's description when it sends one. */
export const scheduleWords = (t) =>
  t.schedule_description || t.description_of_schedule || (t.schedule === "once" ? (t.run_at ? "once" : "once") : describeCron(t.schedule));
