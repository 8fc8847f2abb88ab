// The agents list (home), creating an agent, and the shared agent form.
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { post } from "../api.js";
import { useStore, loadAgents } from "../store.js";
import { Avatar, OnlineDot, Secret, CopyButton, ErrorText, useAction, Loading } from "./common.js";

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

export function AgentsPage() {
  const s = useStore();
  return html`
    <main class="page">
      <div class="page-head">
        <h1>Agents</h1>
        <a class="button primary" href="/app/agents/new">New agent</a>
      </div>
      ${!s.agentsLoaded
        ? html`<${Loading} />`
        : s.agents.length === 0
          ? html`<div class="empty card">
              <p>No agents yet. Create one, then point your agent at this server with its id and secret.</p>
            </div>`
          : html`<ul class="agent-list">
              ${s.agents.map((a) => html`<li key=${a.id}><${AgentRow} agent=${a} /></li>`)}
            </ul>`}
    </main>
  `;
}

function AgentRow({ agent: a }) {
  const approvalOnly = a.type === "approval_only";
  const href = approvalOnly ? `/app/agents/${a.id}/requests` : `/app/agents/${a.id}`;
  return html`
    <a class="agent-row" href=${href}>
      <${Avatar} agent=${a} />
      <span class="agent-main">
        <span class="agent-name"><${OnlineDot} online=${a.online} /> ${a.name}</span>
        <span class="muted small">${approvalOnly ? "approval only" : "interactive"}${a.online ? " · online" : ""}</span>
      </span>
      <span class="counts">
        ${a.pending_requests ? html`<span class="badge warn">${plural(a.pending_requests, "pending request", "pending requests")}</span>` : ""}
        ${a.unread_messages ? html`<span class="badge">${plural(a.unread_messages, "unread message", "unread messages")}</span>` : ""}
      </span>
    </a>
  `;
}

/** Name, avatar, type and webhook URL: used to create and to edit. */
export function AgentForm({ initial = {}, submitLabel, onSubmit }) {
  const [name, setName] = useState(initial.name || "");
  const [avatar, setAvatar] = useState(initial.avatar || "");
  const [type, setType] = useState(initial.type || "interactive");
  const [webhook, setWebhook] = useState(initial.webhook_url || "");
  const { run, busy, error } = useAction(() => onSubmit({ name, avatar: avatar || null, type, webhook_url: webhook || null }));
  return html`
    <form class="card form" onSubmit=${(e) => (e.preventDefault(), run())}>
      <label>Name <input name="name" required maxlength="100" value=${name} onInput=${(e) => setName(e.currentTarget.value)} /></label>
      <label>Avatar <span class="muted small">(an emoji, short text or an image URL)</span>
        <input name="avatar" value=${avatar} onInput=${(e) => setAvatar(e.currentTarget.value)} />
      </label>
      <label>Type
        <select name="type" value=${type} onChange=${(e) => setType(e.currentTarget.value)}>
          <option value="interactive">Interactive (chat and requests)</option>
          <option value="approval_only">Approval only (requests, no chat)</option>
        </select>
      </label>
      <label>Webhook URL <span class="muted small">(optional: where nod POSTs events when the agent has no socket open)</span>
        <input name="webhook_url" type="url" inputmode="url" placeholder="https://…" value=${webhook} onInput=${(e) => setWebhook(e.currentTarget.value)} />
      </label>
      <${ErrorText} error=${error} />
      <button class="primary" disabled=${busy}>${submitLabel}</button>
    </form>
  `;
}

export function CreateAgentPage() {
  const [created, setCreated] = useState(null);
  const create = async (body) => {
    const a = await post("/api/agents", body);
    setCreated(a);
    loadAgents();
  };
  return html`
    <main class="page">
      <p class="crumbs"><a href="/app">Agents</a> /</p>
      <h1>New agent</h1>
      ${created ? html`<${Credentials} agent=${created} />` : html`<${AgentForm} submitLabel="Create agent" onSubmit=${create} />`}
    </main>
  `;
}

/** The id, secret and webhook signing secret, shown once after creation. */
export function Credentials({ agent, secret = agent.secret }) {
  const origin = location.origin;
  const body =
    agent.type === "approval_only"
      ? `{"type":"decision","kind":"approval","title":"May I deploy?","description":"Ready to ship."}`
      : `{"type":"message","text":"Hello from ${agent.name.replace(/["'\\]/g, "")}"}`;
  const curl = `curl -X POST ${origin}/api/agent/events -H "X-Nod-Agent-Id: ${agent.id}" -H "X-Nod-Secret: ${secret}" -H "Content-Type: application/json" -d '${body}'`;
  return html`
    <section class="card credentials" aria-labelledby="cred-h">
      <h2 id="cred-h">${agent.name} is ready</h2>
      <p class="warn-text">Copy the secret now: it is shown only this once.</p>
      <${Secret} label="Agent ID" value=${agent.id} />
      <${Secret} label="Secret" value=${secret} />
      ${agent.webhook_secret && html`<${Secret} label="Webhook signing secret" value=${agent.webhook_secret} />`}
      <div class="curl">
        <div class="row"><span class="secret-label">Try it</span> <${CopyButton} text=${curl} label="Copy curl command" /></div>
        <pre><code>${curl}</code></pre>
      </div>
      <p><a class="button primary" href=${agent.type === "approval_only" ? `/app/agents/${agent.id}/requests` : `/app/agents/${agent.id}`}>Open ${agent.name}</a></p>
    </section>
  `;
}
