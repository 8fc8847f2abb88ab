// The activity feed: per agent and across agents, newest first.
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { get, qs } from "../api.js";
import { useFrames, agentName } from "../store.js";
import { clean } from "../text.js";
import { Time, ErrorText, useLoad, Loading, AgentFilteredPage } from "./common.js";

const ICON = { decision_created: "?", decision_resolved: "✓", agent_message: "✉", agent_action: "▸", system: "i" };
const LABEL = { decision_created: "request", decision_resolved: "answer", agent_message: "message", agent_action: "action", system: "system" };
const PAGE = 50;

export function ActivityList({ agentId, showAgent = false }) {
  const url = (before) => "/api/activity" + qs({ agent_id: agentId, before, limit: PAGE });
  const load = useLoad(() => get(url()), [agentId]);
  const [more, setMore] = useState(true);
  const [busy, setBusy] = useState(false);
  useFrames((f) => {
    if (f.type === "resync") return load.reload();
    if (f.type === "activity" && f.activity && (!agentId || f.activity.agent_id === agentId) && load.data) {
      if (!load.data.some((x) => x.id === f.activity.id)) load.setData([f.activity, ...load.data]);
    }
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
  if (load.data === undefined) return html`<${ErrorText} error=${load.error} />${!load.error && html`<${Loading} />`}`;
  if (!load.data.length) return html`<p class="empty muted">No activity yet.</p>`;
  return html`
    <ol class="activity">
      ${load.data.map(
        (a) => html`<li key=${a.id} class="act act-${a.type}">
          <span class="act-icon" aria-hidden="true">${ICON[a.type] || "•"}</span>
          <div class="act-body">
            <div class="act-title">${clean(a.title)}</div>
            ${a.text && html`<div class="act-text muted">${clean(a.text)}</div>`}
            <div class="small muted">
              <span class="sr-only">${LABEL[a.type] || a.type}, </span>
              ${showAgent && html`<a href=${`/app/agents/${a.agent_id}/activity`}>${agentName(a.agent_id)}</a> · `}
              <${Time} iso=${a.created_at} />
              ${a.task_run_id && html` · run <code>${a.task_run_id}</code>`}
            </div>
          </div>
        </li>`,
      )}
    </ol>
    ${more && load.data.length >= PAGE && html`<button type="button" class="more" disabled=${busy} onClick=${older}>Show older</button>`}
  `;
}

export const ActivityPage = () => html`<${AgentFilteredPage} title="Activity" path="/app/activity" List=${ActivityList} />`;
