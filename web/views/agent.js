// One agent: tabs for chat, requests, tasks, activity and settings.
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { get, patch, del, post } from "../api.js";
import { useStore, agentById, loadAgents, fresh } from "../store.js";
import { navigate } from "../router.js";
import { Avatar, OnlineDot, Secret, ErrorText, useAction, useLoad, Loading, presence } from "./common.js";
import { AgentForm, Setup } from "./agents.js";
import { Chat } from "./chat.js";
import { RequestList } from "./requests.js";
import { ActivityList } from "./activity.js";
import { TaskList } from "./tasks.js";

export function AgentPage({ id, tab }) {
  const s = useStore();
  const agent = agentById(id);
  // Not in the list yet (made from the shell a moment ago, and opened by its URL): ask once more.
  useEffect(() => void (!agent && s.agentsLoaded && loadAgents()), [id]);
  if (!agent) {
    if (!s.agentsLoaded) return html`<main class="page"><${Loading} /></main>`;
    return html`<main class="page"><h1>No such agent</h1><p><a href="/app">Back to the agents</a></p></main>`;
  }
  const chat = agent.type !== "approval_only";
  const current = tab || (chat ? "chat" : "requests");
  const tabs = [chat && ["chat", "Chat"], ["requests", "Requests"], ["tasks", "Tasks"], ["activity", "Activity"], ["settings", "Settings"]].filter(Boolean);
  return html`
    <main class="page agent-page ${current === "chat" ? "is-chat" : ""}">
      <div class="agent-head">
        <${Avatar} agent=${agent} size="big" />
        <div class="agent-title">
          <h1>${agent.name}</h1>
          <span class="muted small"><${OnlineDot} online=${agent.online} /> ${presence(agent)}${agent.type === "approval_only" ? " · approval only" : ""}</span>
        </div>
      </div>
      <nav class="tabs" aria-label=${`${agent.name} sections`}>
        ${tabs.map(
          ([k, label]) =>
            html`<a href=${`/app/agents/${id}/${k}`} aria-current=${current === k ? "page" : undefined}
              >${label}${k === "requests" && agent.pending_requests ? html` <span class="badge warn">${agent.pending_requests}</span>` : ""}</a
            >`,
        )}
      </nav>
      ${current === "chat" && chat && html`<${Chat} agent=${agent} key=${id} />`}
      ${current === "chat" && !chat && html`<p class="muted">This agent is approval-only: it has no chat.</p>`}
      ${current === "requests" && html`<${RequestList} agentId=${id} key=${id} />`}
      ${current === "tasks" && html`<${TaskList} agentId=${id} key=${id} />`}
      ${current === "activity" && html`<${ActivityList} agentId=${id} key=${id} />`}
      ${current === "settings" && html`<${Settings} agent=${agent} key=${id} />`}
      ${current === "setup" && html`<${Setup} agent=${agent} key=${id} />`}
    </main>
  `;
}

function Settings({ agent }) {
  const full = useLoad(() => get(`/api/agents/${agent.id}`), [agent.id]);
  const [saved, setSaved] = useState(false);
  const save = async (body) => {
    await patch(`/api/agents/${agent.id}`, body);
    setSaved(true);
    loadAgents();
  };
  return html`
    <section aria-labelledby="edit-h">
      <h2 id="edit-h">Edit</h2>
      ${full.data ? html`<${AgentForm} initial=${full.data} submitLabel="Save changes" onSubmit=${save} />` : html`<${Loading} />`}
      ${saved && html`<p class="ok" role="status">Saved.</p>`}
    </section>
    <section class="card" aria-labelledby="cred-h">
      <h2 id="cred-h">Credentials</h2>
      <${Secret} label="Agent ID" value=${agent.id} />
      <p><a href=${`/app/agents/${agent.id}/setup`}>Connect it: environment, Claude Code hook and MCP</a></p>
      ${full.data?.webhook_secret && html`<${Secret} label="Webhook signing secret" value=${full.data.webhook_secret} />`}
      <${Rotate} agent=${agent} />
    </section>
    <${Delete} agent=${agent} />
  `;
}

function Rotate({ agent }) {
  const [confirm, setConfirm] = useState(false);
  const [secret, setSecret] = useState(null);
  const { run, busy, error } = useAction(async () => {
    const r = await post(`/api/agents/${agent.id}/secret`);
    setSecret(r.secret);
    fresh[agent.id] = { ...fresh[agent.id], secret: r.secret }; // the setup page's snippets use it (in memory only)
    setConfirm(false);
  });
  return html`
    <div class="danger-zone">
      ${secret
        ? html`<p class="warn-text">The new secret, shown only this once. The old one no longer works.</p>
            <${Secret} label="Secret" value=${secret} />`
        : confirm
          ? html`<p>Make a new secret? The current one stops working at once and the agent is disconnected.</p>
              <div class="row">
                <button type="button" class="danger" disabled=${busy} onClick=${run}>Yes, rotate the secret</button>
                <button type="button" onClick=${() => setConfirm(false)}>Cancel</button>
              </div>`
          : html`<button type="button" onClick=${() => setConfirm(true)}>Rotate secret</button>`}
      <${ErrorText} error=${error} />
    </div>
  `;
}

function Delete({ agent }) {
  const [confirm, setConfirm] = useState(false);
  const { run, busy, error } = useAction(async () => {
    await del(`/api/agents/${agent.id}`);
    await loadAgents();
    navigate("/app");
  });
  return html`
    <section class="card danger-zone" aria-labelledby="del-h">
      <h2 id="del-h">Delete</h2>
      ${confirm
        ? html`<p>Delete <strong>${agent.name}</strong> with its conversations, requests and tasks? This cannot be undone.</p>
            <div class="row">
              <button type="button" class="danger" disabled=${busy} onClick=${run}>Yes, delete ${agent.name}</button>
              <button type="button" onClick=${() => setConfirm(false)}>Cancel</button>
            </div>`
        : html`<button type="button" class="danger" onClick=${() => setConfirm(true)}>Delete agent</button>`}
      <${ErrorText} error=${error} />
    </section>
  `;
}
