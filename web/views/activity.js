// The activity feed: per agent and across agents, newest first, filterable by
// type. Each entry shows a preview of what it is about and links to it (the
// request, the message, the task run); an answered request shows how it ended
// (only an approval or an answer gets a ✓).
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { get, qs } from "../api.js";
import { useFrames, agentName } from "../store.js";
import { clean, plain } from "../text.js";
import { Time, ErrorText, useLoad, Loading, AgentFilteredPage } from "./common.js";

const PAGE = 50;
const TYPES = [
  ["", "Everything"],
  ["decision_created", "Requests"],
  ["decision_resolved", "Answers"],
  ["agent_message", "Messages"],
  ["agent_action", "Actions"],
  ["system", "Runs and system"],
];
const LABEL = { decision_created: "request", decision_resolved: "answer", agent_message: "message", agent_action: "action", system: "system" };
const ICON = { decision_created: "?", agent_message: "✉", agent_action: "▸", system: "i" };
// How an entry ended: [icon, tone, words]. Only an approval or an answer is a ✓.
const OUTCOME = {
  approved: ["✓", "ok", "approved"],
  responded: ["✓", "ok", "answered"],
  rejected: ["✗", "bad", "rejected"],
  dismissed: ["–", "quiet", "dismissed"],
  expired: ["⏱", "quiet", "expired"],
  cancelled: ["↩", "quiet", "withdrawn"],
  completed: ["✓", "ok", "completed"],
  failed: ["!", "bad", "failed"],
};

/** Where an entry leads: its request, its message, or its task run. */
function linkOf(a) {
  const ref = a.ref_id || "";
  if (ref.startsWith("dec_")) return [`/app/requests/${ref}`, "Open request"];
  if (ref.startsWith("msg_")) return [`/app/agents/${a.agent_id}/chat?message=${ref}`, "Open message"];
  const run = ref.startsWith("run_") ? ref : a.task_run_id;
  if (run) return [`/app/runs/${run}`, "Open run"];
  return null;
}

export function ActivityList({ agentId, showAgent = false }) {
  const [type, setType] = useState("");
  const url = (before) => "/api/activity" + qs({ agent_id: agentId, type, before, limit: PAGE });
  const load = useLoad(() => get(url()), [agentId, type]);
  const [more, setMore] = useState(true);
  const [busy, setBusy] = useState(false);
  useFrames((f) => {
    if (f.type === "resync") return load.reload();
    const a = f.type === "activity" && f.activity;
    if (a && (!agentId || a.agent_id === agentId) && (!type || a.type === type)) load.update((list) => (list.some((x) => x.id === a.id) ? list : [a, ...list]));
  });
  const older = async () => {
    const list = load.data || [];
    setBusy(true);
    try {
      const page = await get(url(list.at(-1)?.id));
      load.setData([...list, ...page]);
      if (page.length < PAGE) setMore(false);
    } finally {
      setBusy(false);
    }
  };
  const filter = html`<label class="filter act-filter">Show
    <select value=${type} onChange=${(e) => (setType(e.currentTarget.value), setMore(true))}>
      ${TYPES.map(([v, label]) => html`<option value=${v}>${label}</option>`)}
    </select>
  </label>`;
  let body;
  if (load.data === undefined) body = html`<${ErrorText} error=${load.error} />${!load.error && html`<${Loading} />`}`;
  else if (!load.data.length) body = html`<p class="empty muted">${type ? "Nothing of this kind yet." : "No activity yet."}</p>`;
  else
    body = html`
      <ol class="activity">${load.data.map((a) => html`<${Entry} key=${a.id} a=${a} showAgent=${showAgent} />`)}</ol>
      ${more && load.data.length >= PAGE && html`<button type="button" class="more" disabled=${busy} onClick=${older}>Show older</button>`}
    `;
  return html`<div class="activity-list">${filter}${body}</div>`;
}

function Entry({ a, showAgent }) {
  const out = OUTCOME[a.outcome];
  const icon = out ? out[0] : ICON[a.type] || "•";
  const link = linkOf(a);
  return html`<li class="act act-${a.type} ${out ? `tone-${out[1]}` : ""}">
    <span class="act-icon" aria-hidden="true">${icon}</span>
    <div class="act-body">
      <div class="act-title">${link ? html`<a href=${link[0]}>${clean(a.title)}</a>` : clean(a.title)}</div>
      ${a.text && html`<div class="act-text muted">${a.type === "agent_message" ? plain(a.text) : clean(a.text)}</div>`}
      <div class="small muted">
        <span class="sr-only">${LABEL[a.type] || a.type}${out ? ` (${out[2]})` : ""}, </span>
        ${out && html`<span class="act-outcome">${out[2]}</span> · `}
        ${showAgent && html`<a href=${`/app/agents/${a.agent_id}/activity`}>${agentName(a.agent_id)}</a> · `}
        <${Time} iso=${a.created_at} />
        ${a.task_run_id && !(link && link[0].includes(a.task_run_id)) && html` · <a href=${`/app/runs/${a.task_run_id}`}>run</a>`}
      </div>
    </div>
  </li>`;
}

export const ActivityPage = () => html`<${AgentFilteredPage} title="Activity" path="/app/activity" List=${ActivityList} />`;
