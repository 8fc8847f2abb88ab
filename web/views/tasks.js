// Tasks: lists per agent and across agents, one task with its runs, and the
// create/edit form with the schedule checked as you type.
import { html } from "htm/preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { get, post, patch, del, qs, ApiError } from "../api.js";
import { useStore, useFrames, agentName, agentById } from "../store.js";
import { navigate, useRoute } from "../router.js";
import { Markdown } from "../markdown.js";
import { Time, CopyButton, ErrorText, useAction, useLoad, Loading, AgentFilteredPage } from "./common.js";

const upsertTask = (list, t) => (list.some((x) => x.id === t.id) ? list.map((x) => (x.id === t.id ? { ...x, ...t } : x)) : [...list, t]);
const kindOf = (t) => (t.schedule === "event" || t.trigger_type === "event" ? "event" : t.schedule === "once" || t.trigger_type === "once" ? "once" : "cron");

const STATUS_WORDS = { due: "due", running: "running", completed: "completed", failed: "failed" };
function StatusChip({ status }) {
  if (!status) return html`<span class="muted">never run</span>`;
  return html`<span class="chip status-${status}">${status === "failed" ? "✗ " : ""}${STATUS_WORDS[status] || status}</span>`;
}

export function TaskList({ agentId, showAgent = false }) {
  const load = useLoad(() => get(`/api/tasks${qs({ agent_id: agentId })}`), [agentId]);
  useFrames((f) => {
    if (f.type === "resync") return load.reload();
    if (f.type === "task" && f.task && (!agentId || f.task.agent_id === agentId)) load.update((list) => upsertTask(list, f.task));
    if (f.type === "task_deleted") load.update((list) => list.filter((t) => t.id !== f.task_id));
    if (f.type === "task_run" && f.run) load.update((list) => list.map((t) => (t.id === f.run.task_id ? { ...t, last_run_status: f.run.status } : t)));
  });
  const newHref = `/app/tasks/new${qs({ agent: agentId })}`;
  return html`
    <div class="tasks">
      <div class="row end"><a class="button primary" href=${newHref}>New task</a></div>
      <${ErrorText} error=${load.error} />
      ${load.data === undefined
        ? !load.error && html`<${Loading} />`
        : load.data.length === 0
          ? html`<p class="empty muted">No tasks yet. A task sends the agent a prompt on a schedule, once, or when its trigger URL is called.</p>`
          : html`<ul class="stack task-list">${load.data.map((t) => html`<li key=${t.id}><${TaskCard} t=${t} showAgent=${showAgent} onChange=${(x) => load.setData(upsertTask(load.data, x))} /></li>`)}</ul>`}
    </div>
  `;
}

function TaskCard({ t, showAgent, onChange }) {
  return html`
    <article class="card task-card" aria-label=${`Task: ${t.name}`}>
      <div class="row spread">
        <h3><a href=${`/app/tasks/${t.id}`}>${t.name}</a></h3>
        <${StatusChip} status=${t.last_run_status} />
      </div>
      ${showAgent && html`<p class="small"><a href=${`/app/agents/${t.agent_id}/tasks`}>${agentName(t.agent_id)}</a></p>`}
      <p class="schedule">${t.schedule_description}${t.timezone && kindOf(t) === "cron" ? html` <span class="muted small">(${t.timezone})</span>` : ""}</p>
      ${t.next_run_at && t.enabled && html`<${NextRun} t=${t} />`}
      ${t.trigger_url && html`<${TriggerUrl} url=${t.trigger_url} />`}
      <${TaskControls} t=${t} onChange=${onChange} />
    </article>
  `;
}

/** The next run as the task's clock shows it (the schedule's words use that zone too). */
const NextRun = ({ t }) => html`<p class="small muted">
  Next run <time datetime=${t.next_run_at} title=${new Date(t.next_run_at).toLocaleString()}>${inZone(t.next_run_at, t.timezone)}</time>${" "}(<${Time} iso=${t.next_run_at} ago />)
</p>`;

const TriggerUrl = ({ url }) => html`
  <div class="secret">
    <span class="secret-label">Trigger URL</span>
    <code class="secret-value">${url}</code>
    <${CopyButton} text=${url} label="Copy trigger URL" />
  </div>
`;

function TaskControls({ t, onChange, onRan }) {
  const [started, setStarted] = useState(null);
  // Optimistic: the switch flips at once and flips back if the server refuses.
  const toggle = useAction(async () => {
    const enabled = !t.enabled;
    onChange({ ...t, enabled });
    try {
      onChange(await patch(`/api/tasks/${t.id}`, { enabled }));
    } catch (e) {
      onChange({ ...t, enabled: !enabled });
      throw e;
    }
  });
  const runNow = useAction(async () => {
    const r = await post(`/api/tasks/${t.id}/run`);
    setStarted(r.run_id);
    onRan && onRan(r.run_id);
  });
  return html`
    <div class="row actions">
      <label class="switch">
        <input type="checkbox" checked=${!!t.enabled} onChange=${() => !toggle.busy && toggle.run()} />
        <span>Enabled</span>
      </label>
      <button type="button" disabled=${runNow.busy} onClick=${runNow.run} aria-label=${`Run ${t.name} now`}>Run now</button>
      ${started && html`<span class="ok small" role="status">Run started</span>`}
    </div>
    <${ErrorText} error=${toggle.error || runNow.error} />
  `;
}

export const TasksPage = () => html`<${AgentFilteredPage} title="Tasks" path="/app/tasks" List=${TaskList} />`;

async function fetchTask(id) {
  try {
    return await get(`/api/tasks/${id}`);
  } catch (e) {
    if (!(e instanceof ApiError) || (e.status !== 404 && e.status !== 405)) throw e;
  }
  // No single-task route: find it in the list.
  const t = (await get("/api/tasks")).find((x) => x.id === id);
  if (!t) throw new ApiError(404, "no such task");
  return t;
}

/** /app/runs/:id — where task bubbles and the activity feed link to: the run on its task's page. */
export function RunPage({ id }) {
  const load = useLoad(() => get(`/api/tasks/runs/${encodeURIComponent(id)}`), [id]);
  useEffect(() => {
    if (load.data) navigate(`/app/tasks/${load.data.task_id}?run=${encodeURIComponent(id)}`, { replace: true });
  }, [load.data]);
  return html`<main class="page">${load.error ? html`<h1>Task run</h1><${ErrorText} error=${load.error} />` : html`<${Loading} />`}</main>`;
}

export function TaskPage({ id }) {
  useStore();
  const wantedRun = useRoute().query.get("run");
  const task = useLoad(() => fetchTask(id), [id]);
  const runs = useLoad(() => get(`/api/tasks/${id}/runs`), [id]);
  const [editing, setEditing] = useState(false);
  const [confirm, setConfirm] = useState(false);
  useFrames((f) => {
    if (f.type === "resync") return task.reload(), runs.reload();
    if (f.type === "task" && f.task?.id === id) task.setData({ ...(task.data || {}), ...f.task });
    if (f.type === "task_deleted" && f.task_id === id) navigate("/app/tasks", { replace: true });
    if (f.type === "task_run" && f.run?.task_id === id) {
      runs.update((list) => (list.some((r) => r.id === f.run.id) ? list.map((r) => (r.id === f.run.id ? { ...r, ...f.run } : r)) : [f.run, ...list]));
      task.update((t) => ({ ...t, last_run_status: f.run.status }));
    }
  });
  const remove = useAction(async () => {
    const agent = task.data.agent_id;
    await del(`/api/tasks/${id}`);
    navigate(`/app/agents/${agent}/tasks`, { replace: true });
  });
  const t = task.data;
  if (!t) return html`<main class="page">${task.error ? html`<h1>Task</h1><${ErrorText} error=${task.error} />` : html`<${Loading} />`}</main>`;
  return html`
    <main class="page">
      <p class="crumbs"><a href=${`/app/agents/${t.agent_id}/tasks`}>${agentName(t.agent_id)}</a> / <a href="/app/tasks">Tasks</a> /</p>
      <div class="page-head"><h1>${t.name}</h1><${StatusChip} status=${t.last_run_status} /></div>
      ${editing
        ? html`<${TaskForm} initial=${t} agentId=${t.agent_id} onSaved=${(x) => (task.setData({ ...t, ...x }), setEditing(false))} onCancel=${() => setEditing(false)} />`
        : html`<section class="card">
            <p class="schedule">${t.schedule_description} ${kindOf(t) === "cron" && html`<code class="small">${t.schedule}</code>`}${t.timezone ? html` <span class="muted small">${t.timezone}</span>` : ""}</p>
            ${t.next_run_at && t.enabled && html`<${NextRun} t=${t} />`}
            ${t.trigger_url && html`<${TriggerUrl} url=${t.trigger_url} />`}
            <h2 class="small-h">Prompt</h2>
            <${Markdown} text=${t.prompt} />
            <${TaskControls} t=${t} onChange=${(x) => task.setData({ ...t, ...x })} onRan=${() => runs.reload()} />
            <div class="row actions">
              <button type="button" onClick=${() => setEditing(true)}>Edit task</button>
              ${confirm
                ? html`<span>Delete this task?</span>
                    <button type="button" class="danger" disabled=${remove.busy} onClick=${remove.run}>Yes, delete</button>
                    <button type="button" onClick=${() => setConfirm(false)}>Cancel</button>`
                : html`<button type="button" class="danger" onClick=${() => setConfirm(true)}>Delete task</button>`}
            </div>
            <${ErrorText} error=${remove.error} />
          </section>`}
      <section aria-labelledby="runs-h">
        <h2 id="runs-h">Runs</h2>
        <${ErrorText} error=${runs.error} />
        ${runs.data === undefined
          ? !runs.error && html`<${Loading} />`
          : runs.data.length === 0
            ? html`<p class="empty muted">No runs yet.</p>`
            : html`<ol class="stack runs">${runs.data.map((r) => html`<li key=${r.id}><${Run} r=${r} target=${r.id === wantedRun} /></li>`)}</ol>`}
      </section>
    </main>
  `;
}

function Run({ r, target }) {
  const ref = useRef();
  useEffect(() => void (target && ref.current?.scrollIntoView({ block: "center" })), [target]);
  return html`
    <article ref=${ref} id=${`run-${r.id}`} class="card run run-${r.status} ${target ? "target" : ""}" aria-label=${`Run ${r.id}`} aria-current=${target ? "true" : undefined}>
      <div class="row spread">
        <${StatusChip} status=${r.status} />
        <span class="small muted">${r.started_at ? html`<${Time} iso=${r.started_at} />` : html`<${Time} iso=${r.created_at} />`}${r.finished_at ? html` → <${Time} iso=${r.finished_at} />` : ""}</span>
      </div>
      ${r.summary ? html`<${Markdown} text=${r.summary} />` : html`<p class="small muted">${r.status === "completed" || r.status === "failed" ? "No summary." : "Waiting for the agent…"}</p>`}
    </article>
  `;
}

export function TaskFormPage() {
  const s = useStore();
  const { query } = useRoute();
  const [agentId, setAgentId] = useState(query.get("agent") || "");
  const agent = agentById(agentId);
  return html`
    <main class="page">
      <p class="crumbs">${agent ? html`<a href=${`/app/agents/${agent.id}/tasks`}>${agent.name}</a> / ` : ""}<a href="/app/tasks">Tasks</a> /</p>
      <h1>New task</h1>
      ${!query.get("agent") &&
      html`<label class="filter">Agent
        <select value=${agentId} onChange=${(e) => setAgentId(e.currentTarget.value)} required>
          <option value="">Choose an agent…</option>
          ${s.agents.map((a) => html`<option value=${a.id}>${a.name}</option>`)}
        </select>
      </label>`}
      ${agentId
        ? html`<${TaskForm} agentId=${agentId} key=${agentId} onSaved=${(t) => navigate(`/app/tasks/${t.id}`, { replace: true })} onCancel=${() => history.back()} />`
        : html`<p class="muted">Choose the agent that runs this task.</p>`}
    </main>
  `;
}

const localZone = () => {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
};

/** A time as the clock shows it in the task's zone (the browser's zone if that one is unknown). */
function inZone(iso, tz) {
  const opts = { weekday: "short", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
  try {
    return new Date(iso).toLocaleString([], { ...opts, timeZone: tz || "UTC" });
  } catch {
    return new Date(iso).toLocaleString([], opts);
  }
}

/** Asks the server to check a schedule and put it in words (the server is the one describer). */
function usePreview(schedule, timezone, active) {
  const [p, setP] = useState(null);
  useEffect(() => {
    if (!active || !schedule.trim()) return setP(null);
    let live = true;
    const timer = setTimeout(async () => {
      try {
        const r = await get(`/api/tasks/preview${qs({ schedule: schedule.trim(), timezone })}`);
        live && setP({ ok: true, description: r.description, next: r.next_runs });
      } catch (e) {
        live && setP({ ok: false, error: e.message });
      }
    }, 250);
    return () => ((live = false), clearTimeout(timer));
  }, [schedule, timezone, active]);
  return p;
}

export function TaskForm({ initial = null, agentId, onSaved, onCancel }) {
  const [name, setName] = useState(initial?.name || "");
  const [prompt, setPrompt] = useState(initial?.prompt || "");
  const [kind, setKind] = useState(initial ? kindOf(initial) : "cron");
  const [cron, setCron] = useState(initial && kindOf(initial) === "cron" ? initial.schedule : "0 9 * * 1-5");
  const [timezone, setTimezone] = useState(initial?.timezone || localZone());
  const [runAt, setRunAt] = useState("");
  const preview = usePreview(cron, timezone, kind === "cron");
  const { run, busy, error } = useAction(async () => {
    const schedule = kind === "cron" ? cron.trim() : kind;
    let body = { name: name.trim(), prompt, schedule, timezone };
    if (kind === "once" && runAt && !initial) body.run_at = new Date(runAt).toISOString();
    if (initial) {
      // Send only what changed (re-sending "event" must not touch the trigger).
      body = Object.fromEntries(Object.entries(body).filter(([k, v]) => v !== initial[k]));
      if (body.timezone && schedule === initial.schedule && kind !== "cron") delete body.timezone;
    }
    const t = initial ? await patch(`/api/tasks/${initial.id}`, body) : await post(`/api/agents/${agentId}/tasks`, body);
    onSaved(t);
  });
  const kinds = [
    ["cron", "On a schedule"],
    ["once", "Once"],
    ["event", "When called (trigger URL)"],
  ];
  return html`
    <form class="card form" onSubmit=${(e) => (e.preventDefault(), run())}>
      <label>Name <input name="name" required maxlength="200" value=${name} onInput=${(e) => setName(e.currentTarget.value)} /></label>
      <label>Prompt <span class="muted small">(what the agent is asked to do each run)</span>
        <textarea name="prompt" rows="4" required value=${prompt} onInput=${(e) => setPrompt(e.currentTarget.value)}></textarea>
      </label>
      <fieldset class="kinds">
        <legend>Runs</legend>
        ${kinds.map(
          ([k, label]) => html`<label class="radio"><input type="radio" name="kind" value=${k} checked=${kind === k} onChange=${() => setKind(k)} /> <span>${label}</span></label>`,
        )}
      </fieldset>
      ${kind === "cron" &&
      html`<label>Cron expression <span class="muted small">(minute hour day month weekday)</span>
          <input name="schedule" class="mono" autocomplete="off" spellcheck="false" required value=${cron}
            aria-invalid=${preview && !preview.ok ? "true" : undefined} aria-describedby="cron-check" onInput=${(e) => setCron(e.currentTarget.value)} />
        </label>
        <label>Time zone <input name="timezone" value=${timezone} onInput=${(e) => setTimezone(e.currentTarget.value)} /></label>
        <div id="cron-check" class="cron-check" aria-live="polite">
          ${preview === null
            ? ""
            : preview.ok
              ? html`<p class="ok">✓ ${preview.description}</p>
                  ${preview.next.length > 0 &&
                  html`<p class="small muted">Next runs (${timezone || "UTC"}):</p><ol class="next-runs small">${preview.next.slice(0, 5).map((x) => html`<li><time datetime=${x}>${inZone(x, timezone)}</time></li>`)}</ol>`}`
              : html`<p class="error">✗ ${preview.error}</p>`}
        </div>`}
      ${kind === "once" && !initial &&
      html`<label>Run at <span class="muted small">(empty: now)</span><input type="datetime-local" value=${runAt} onInput=${(e) => setRunAt(e.currentTarget.value)} /></label>`}
      ${kind === "event" && html`<p class="small muted">nod gives this task a secret trigger URL; each POST to it starts a run with the request body as payload.</p>`}
      <${ErrorText} error=${error} />
      <div class="row actions">
        <button class="primary" disabled=${busy || (kind === "cron" && preview && !preview.ok)}>${initial ? "Save task" : "Create task"}</button>
        ${onCancel && html`<button type="button" onClick=${onCancel}>Cancel</button>`}
      </div>
    </form>
  `;
}
