// The agents list (home), creating an agent, and the shared agent form.
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { get, post, qs } from "../api.js";
import { useStore, useFrames, loadAgents, fresh } from "../store.js";
import { navigate } from "../router.js";
import { Markdown } from "../markdown.js";
import { clean, plain } from "../text.js";
import { Avatar, OnlineDot, Secret, CopyButton, ErrorText, useAction, Loading, Time, presence } from "./common.js";

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
        <span class="muted small">${approvalOnly ? "approval only" : "interactive"} · ${presence(a)}</span>
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

/** Creates the agent, then moves to its page (a reload keeps you there); the secret stays in memory only. */
export function CreateAgentPage() {
  const create = async (body) => {
    const a = await post("/api/agents", body);
    fresh[a.id] = a;
    await loadAgents();
    navigate(`/app/agents/${a.id}/setup`, { replace: true });
  };
  return html`
    <main class="page">
      <p class="crumbs"><a href="/app">Agents</a> /</p>
      <h1>New agent</h1>
      <${AgentForm} submitLabel="Create agent" onSubmit=${create} />
    </main>
  `;
}

/**
 * Connecting an agent (/app/agents/:id/setup, where a new agent lands): its id
 * and secret (the secret only right after creation), the environment, Claude
 * Code's hook and MCP lines ready to copy, and a live "waiting for the first
 * event…" that turns into what the agent sent first.
 */
export function Setup({ agent }) {
  const made = fresh[agent.id];
  return html`
    ${made ? html`<${Credentials} agent=${agent} secret=${made.secret} webhookSecret=${made.webhook_secret} />` : html`<${NoSecret} agent=${agent} />`}
    <${FirstEvent} agent=${agent} />
    <${Snippets} agent=${agent} secret=${made?.secret} />
  `;
}

const NoSecret = ({ agent }) => html`
  <section class="card credentials" aria-labelledby="cred-h">
    <h2 id="cred-h">Connect ${agent.name}</h2>
    <${Secret} label="Agent ID" value=${agent.id} />
    <p class="notice">The secret was shown once, when ${agent.name} was created. Lost it? <a href=${`/app/agents/${agent.id}/settings`}>Rotate it in Settings</a> and paste the new one where the snippets say <code>nod_…</code>.</p>
  </section>
`;

/** The id, secret and webhook signing secret, shown once after creation. */
export function Credentials({ agent, secret, webhookSecret }) {
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
      ${webhookSecret && html`<${Secret} label="Webhook signing secret" value=${webhookSecret} />`}
      <div class="curl">
        <div class="row"><span class="secret-label">Try it</span> <${CopyButton} text=${curl} label="Copy curl command" /></div>
        <pre><code>${curl}</code></pre>
      </div>
      <p><a class="button primary" href=${agent.type === "approval_only" ? `/app/agents/${agent.id}/requests` : `/app/agents/${agent.id}`}>Open ${agent.name}</a></p>
    </section>
  `;
}

/** The environment, Claude Code's settings.json hook and the MCP line, as in the README. */
function Snippets({ agent, secret = "nod_…" }) {
  const url = location.origin;
  const env = `export NOD_API_URL=${url}\nexport NOD_AGENT_ID=${agent.id}\nexport NOD_SECRET=${secret}`;
  // Laid out as in the README: short enough to read on a phone before pasting it.
  const j = (v) => JSON.stringify(v).replace(/([{,])"/g, "$1 \"").replace(/":/g, "\": ").replace(/}$/, " }");
  const hook = [
    "{",
    `  "env": ${j({ NOD_API_URL: url, NOD_AGENT_ID: agent.id, NOD_SECRET: secret })},`,
    `  "hooks": {`,
    `    "PreToolUse": [`,
    `      { "matcher": "Bash|Edit|Write|WebFetch|AskUserQuestion",`,
    `        "hooks": [${j({ type: "command", command: "nod claude-hook --timeout 10m", timeout: 660, onFailure: "block" })}] }`,
    "    ]",
    "  }",
    "}",
  ].join("\n");
  const mcp = `claude mcp add nod -e NOD_API_URL=${url} -e NOD_AGENT_ID=${agent.id} -e NOD_SECRET=${secret} -- nod mcp`;
  const block = (title, what, text, copy) => html`<div class="snippet">
    <div class="snippet-head"><h3>${title}</h3><${CopyButton} text=${text} label=${copy} /></div>
    <p class="small muted">${what}</p>
    <pre><code>${text}</code></pre>
  </div>`;
  return html`
    <section class="card" aria-labelledby="snip-h">
      <h2 id="snip-h">Connect it</h2>
      ${block("Environment", "For the nod command line (nod send, nod ask, nod claude-hook) and your own scripts.", env, "Copy environment")}
      ${block("Claude Code: ask before each tool call", "In ~/.claude/settings.json or a project's .claude/settings.json. Every Bash, Edit, Write and WebFetch call becomes a permission request here.", hook, "Copy settings.json hook")}
      ${block("Claude Code: MCP tools", "Adds nod's tools (ask, send_message, request_permission…) to Claude Code.", mcp, "Copy MCP command")}
    </section>
  `;
}

/** "Waiting for the first event…", until the agent sends something: then what it sent. */
function FirstEvent({ agent }) {
  const [first, setFirst] = useState(undefined); // undefined: looking; null: nothing yet; else { kind, at, title, text, href }
  useEffect(() => {
    get(`/api/agents/${agent.id}/activity${qs({ limit: 1 })}`)
      .then((list) => setFirst((cur) => (cur ? cur : list[0] ? fromActivity(list[0]) : null)))
      .catch(() => setFirst(null));
  }, [agent.id]);
  useFrames((f) => {
    if (first) return;
    if (f.type === "message" && f.message?.agent_id === agent.id && f.message.role !== "user") {
      const m = f.message;
      const x = { at: m.created_at, title: `${agent.name} sent a message`, text: m.report_title || m.text, markdown: !m.report_title, href: `/app/agents/${agent.id}/chat?message=${m.id}` };
      setFirst((cur) => cur || x);
    } else if (f.type === "activity" && f.activity?.agent_id === agent.id) setFirst((cur) => cur || fromActivity(f.activity));
  });
  if (first === undefined) return null;
  return html`
    <section class="card first-event" aria-labelledby="first-h" aria-live="polite">
      <h2 id="first-h">${first ? "First event" : "Waiting for the first event…"}</h2>
      ${first
        ? html`<p class="ok">✓ ${agent.name} is connected.</p>
            <p class="small muted">${clean(first.title)} · <${Time} iso=${first.at} /></p>
            ${first.text && html`<div class="bubble agent first-bubble">${first.markdown ? html`<${Markdown} text=${first.text} />` : plain(first.text)}</div>`}
            ${first.href && html`<p><a href=${first.href}>Open it</a></p>`}`
        : html`<p class="thinking"><span class="dots" aria-hidden="true"><i></i><i></i><i></i></span> Nothing from ${agent.name} yet. Try the curl line, or connect it with a snippet below: this turns into what it sends first.</p>`}
    </section>
  `;
}

function fromActivity(a) {
  const ref = a.ref_id || "";
  const href = ref.startsWith("dec_") ? `/app/requests/${ref}` : ref.startsWith("msg_") ? `/app/agents/${a.agent_id}/chat?message=${ref}` : null;
  return { at: a.created_at, title: a.title, text: a.text, markdown: false, href };
}
