// Requests ("decisions"): one card per request, answerable in place, in the
// chat and on the Requests pages. The text an agent chose (title, options,
// always-allow labels) is shown as the agent's words, never as the name of a
// button that answers: those say what they do (Allow, Always allow, Deny…).
import { html } from "htm/preact";
import { useLayoutEffect, useRef, useState } from "preact/hooks";
import { get, post, qs } from "../api.js";
import { useFrames, agentName } from "../store.js";
import { Markdown } from "../markdown.js";
import { clean, reveal } from "../text.js";
import { Time, ErrorText, useAction, useLoad, Loading, AgentFilteredPage } from "./common.js";

const KIND = { approval: "Approval", choice: "Choice", question: "Question", permission: "Permission" };
const OUTCOME = { approved: "Approved", rejected: "Rejected", responded: "Answered", dismissed: "Dismissed", expired: "Expired", cancelled: "Withdrawn" };

export function DecisionCard({ d, showAgent = false, onChange }) {
  const pending = d.status === "pending";
  const kind = d.task_proposal ? "Task proposal" : KIND[d.kind] || d.kind;
  const title = clean(d.title);
  return html`
    <article class="card decision ${pending ? "pending" : "resolved"} kind-${d.kind}" tabindex="-1" data-decision=${d.id} aria-label=${`Request: ${title}`}>
      <header class="decision-head">
        <span class="chip">${kind}</span>
        ${showAgent && html`<a class="small" href=${`/app/agents/${d.agent_id}/requests`}>${agentName(d.agent_id)}</a>`}
        <span class="muted small"><${Time} iso=${d.created_at} /></span>
        ${pending && d.expires_at && html`<span class="muted small">expires <${Time} iso=${d.expires_at} ago /></span>`}
      </header>
      <h3 class="decision-title" dir="auto">${title}</h3>
      ${d.description && html`<${Markdown} text=${d.description} />`}
      ${d.task_proposal && html`<${Proposal} p=${d.task_proposal} />`}
      ${pending ? html`<${Answer} d=${d} onChange=${onChange} />` : html`<${Outcome} d=${d} />`}
    </article>
  `;
}

function Proposal({ p }) {
  return html`
    <dl class="proposal">
      <dt>Task</dt><dd><bdi>${clean(p.task_name)}</bdi></dd>
      <dt>When</dt><dd>${p.schedule_description}${p.timezone ? ` (${p.timezone})` : ""} <code class="small">${p.task_schedule}</code></dd>
      <dt>Prompt</dt><dd><${Markdown} text=${p.task_prompt} /></dd>
    </dl>
  `;
}

function Outcome({ d }) {
  const who = d.resolved_by === "agent" ? "the agent" : d.resolved_by;
  return html`
    <p class="outcome outcome-${d.status}" role="status">
      <strong>${OUTCOME[d.status] || d.status}</strong>${who ? ` by ${who}` : ""}
      ${d.resolved_at && html` · <${Time} iso=${d.resolved_at} />`}
      ${d.status === "dismissed" && html` · <span class="muted">the agent was not told</span>`}
      ${d.always_allow && html`<br />Always allowed${d.always_allow_pattern ? html`: <code>${reveal(d.always_allow_pattern)}</code>` : ""}`}
      ${d.note && html`<br /><span class="note">“${d.note}”</span>`}
      ${d.task_id && html`<br /><a href=${`/app/tasks/${d.task_id}`}>Open the task</a>`}
    </p>
  `;
}

/**
 * The controls that answer. The positive and negative answers come first, as
 * big buttons; "Add note" opens a note that goes with whichever answer is
 * sent (with Reject or Deny it is the reason the agent reads); Dismiss sits
 * apart and says what it does: the agent is told nothing (as in Nod).
 */
function Answer({ d, onChange }) {
  const [note, setNote] = useState("");
  const [noteOpen, setNoteOpen] = useState(false);
  const [other, setOther] = useState(null); // null: hidden; string: the "Other" text
  const [picked, setPicked] = useState(null); // index of the chosen option
  const opts = d.always_allow_options || [];
  const [pattern, setPattern] = useState(opts[0]?.pattern ?? "");
  const noteRef = useRef();
  const otherRef = useRef();
  // An opened field takes the focus at once (a layout effect: before the next click can land elsewhere).
  useLayoutEffect(() => void (noteOpen && noteRef.current?.focus()), [noteOpen]);
  useLayoutEffect(() => void (other !== null && otherRef.current?.focus()), [other !== null]);
  const { run, busy, error } = useAction(async (body) => {
    const updated = await post(`/api/decisions/${d.id}/respond`, body);
    onChange && onChange(updated);
  });
  const send = (status, extra = {}) => run({ status, ...extra });
  const withNote = () => (note.trim() ? { note: note.trim() } : {});
  const id = d.id;
  const noteField =
    noteOpen &&
    html`<label class="note-field">Note (optional)
      <textarea ref=${noteRef} rows="2" value=${note} aria-describedby=${`nh-${id}`} onInput=${(e) => setNote(e.currentTarget.value)}></textarea>
      <span id=${`nh-${id}`} class="small muted hint">Sent with your answer. With ${d.kind === "permission" ? "Deny" : "Reject"}, it is the reason the agent reads.</span>
    </label>`;
  const addNote = html`<button type="button" class="link" aria-expanded=${noteOpen} onClick=${() => setNoteOpen(!noteOpen)}>Add note</button>`;
  const foot = (withNoteToggle) => html`<div class="answer-foot">
    ${withNoteToggle ? addNote : html`<span></span>`}
    <span class="dismiss">
      <button type="button" class="link quiet" disabled=${busy} aria-describedby=${`nt-${id}`} onClick=${() => send("dismissed")}>Dismiss</button>
      <span id=${`nt-${id}`} class="small muted">the agent is not told</span>
    </span>
  </div>`;
  let body;
  if (d.kind === "approval") {
    body = html`
      ${noteField}
      <div class="row actions">
        <button type="button" class="primary" disabled=${busy} onClick=${() => send("approved", withNote())}>Approve</button>
        <button type="button" class="danger" disabled=${busy} onClick=${() => send("rejected", withNote())}>Reject</button>
      </div>
      ${foot(true)}`;
  } else if (d.kind === "choice") {
    // The options are the agent's words: picked from a group of radios, then
    // sent with a fixed button, so an option called "Dismiss" is no Dismiss.
    const options = d.options || [];
    body = html`
      ${options.length > 0 &&
      html`<fieldset class="choices">
        <legend>Options from the agent</legend>
        ${options.map(
          (o, i) => html`<label class="radio">
            <input type="radio" name=${`opt-${id}`} checked=${picked === i} onChange=${() => setPicked(i)} />
            <bdi>${clean(o)}</bdi>
          </label>`,
        )}
      </fieldset>`}
      <div class="row actions">
        ${options.length > 0 &&
        html`<button type="button" class="primary" disabled=${busy || picked === null} onClick=${() => send("responded", { note: options[picked] })}>Send choice</button>`}
        <button type="button" aria-expanded=${other !== null} disabled=${busy} onClick=${() => setOther(other === null ? "" : null)}>Other…</button>
      </div>
      ${other !== null &&
      html`<form class="row inline-form" onSubmit=${(e) => (e.preventDefault(), other.trim() && send("responded", { note: other.trim() }))}>
        <label class="grow">Other answer <input ref=${otherRef} value=${other} required onInput=${(e) => setOther(e.currentTarget.value)} /></label>
        <button class="primary" disabled=${busy}>Send</button>
      </form>`}
      ${foot(false)}`;
  } else if (d.kind === "question") {
    body = html`
      <form class="inline-form" onSubmit=${(e) => (e.preventDefault(), note.trim() && send("responded", { note: note.trim() }))}>
        <label>Your answer <textarea rows="1" required value=${note} onInput=${(e) => setNote(e.currentTarget.value)}></textarea></label>
        <div class="row actions"><button class="primary" disabled=${busy}>Send answer</button></div>
      </form>
      ${foot(false)}`;
  } else {
    const always = d.allows_always || opts.length > 0;
    body = html`
      ${always && html`<${AlwaysScope} d=${d} opts=${opts} pattern=${pattern} setPattern=${setPattern} />`}
      ${noteField}
      <div class="row actions">
        <button type="button" class="primary" disabled=${busy} onClick=${() => send("approved", withNote())}>Allow</button>
        ${always &&
        html`<button type="button" aria-describedby=${`scope-${id}`} disabled=${busy} onClick=${() => send("approved", { always_allow: true, ...(pattern ? { always_allow_pattern: pattern } : {}), ...withNote() })}>
          Always allow
        </button>`}
        <button type="button" class="danger" disabled=${busy} onClick=${() => send("rejected", withNote())}>Deny</button>
      </div>
      ${foot(true)}`;
  }
  return html`<div class="answer">${body}<${ErrorText} error=${error} /></div>`;
}

/** The agent's words, quoted and isolated (right-to-left text cannot reorder what is around it). */
const Words = ({ text }) => html`<span class="agent-words">“<bdi>${clean(text)}</bdi>”</span>`;

/**
 * What "Always allow" would cover: each pattern shown as itself (monospace,
 * invisible characters spelled out) and named by itself; the agent's label
 * only describes it.
 */
function AlwaysScope({ d, opts, pattern, setPattern }) {
  const id = d.id;
  const said = d.always_allow_label && html`<p class="small muted">The agent's label for always allowing: <${Words} text=${d.always_allow_label} /></p>`;
  if (opts.length > 1)
    return html`<fieldset class="patterns" id=${`scope-${id}`}>
      <legend>Always allow covers</legend>
      ${opts.map(
        (o, i) => html`<div class="pattern-option">
          <label class="radio">
            <input type="radio" name=${`pat-${id}`} value=${o.pattern} checked=${pattern === o.pattern} onChange=${() => setPattern(o.pattern)} aria-describedby=${o.label ? `pat-${id}-${i}` : undefined} />
            <code>${reveal(o.pattern)}</code>
          </label>
          ${o.label && html`<span id=${`pat-${id}-${i}`} class="small muted"><${Words} text=${o.label} /></span>`}
        </div>`,
      )}
      ${said}
    </fieldset>`;
  return html`<div class="patterns" id=${`scope-${id}`}>
    <p>
      ${opts.length
        ? html`Always allow covers <code>${reveal(opts[0].pattern)}</code>`
        : "Always allow: the agent gave no pattern, so it decides what this covers."}
    </p>
    ${opts[0]?.label && html`<p class="small muted">The agent's label for this pattern: <${Words} text=${opts[0].label} /></p>`}
    ${said}
  </div>`;
}

/** Merges a decision into a list (newest first), replacing one with the same id. */
export function upsert(list, d) {
  const i = list.findIndex((x) => x.id === d.id);
  if (i >= 0) return list.map((x) => (x.id === d.id ? d : x));
  return [d, ...list].sort((a, b) => (a.id < b.id ? 1 : -1));
}

/**
 * After an answer, focus goes to the next request still pending below the
 * answered one (else the first pending one above it), so a queue can be
 * worked through from the keyboard or with a thumb without hunting for it.
 */
export function focusNextPending(container, answeredId) {
  requestAnimationFrame(() => {
    if (!container) return;
    const cards = [...container.querySelectorAll("article.decision")];
    const at = cards.findIndex((c) => c.dataset.decision === answeredId);
    const next = cards.slice(at + 1).find((c) => c.classList.contains("pending")) || cards.find((c) => c.classList.contains("pending"));
    const target = next || cards[at];
    if (!target) return;
    target.focus({ preventScroll: true });
    target.scrollIntoView({ block: "nearest" });
  });
}

/** Requests of one agent or of all, pending or answered, kept live. Pending: oldest first (a queue is worked from the top). */
export function RequestList({ agentId, showAgent = false }) {
  const [status, setStatus] = useState("pending");
  const [newestFirst, setNewestFirst] = useState(false);
  const box = useRef();
  const load = useLoad(() => get(`/api/decisions${qs({ status, agent_id: agentId, limit: 100 })}`), [status, agentId]);
  useFrames((f) => {
    if (f.type === "resync") return load.reload();
    if ((f.type === "decision" || f.type === "decision_resolved") && f.decision && (!agentId || f.decision.agent_id === agentId)) {
      const d = f.decision;
      // A newly answered request stays visible (answered) until the list is reloaded.
      const list = load.data || [];
      if (status === "pending" && d.status === "pending") load.setData(upsert(list, d));
      else if (status === "pending" && list.some((x) => x.id === d.id)) load.setData(upsert(list, d));
      else if (status === "resolved" && d.status !== "pending") load.setData(upsert(list, d));
    }
  });
  const onChange = (d) => {
    load.setData(upsert(load.data || [], d));
    if (d.status !== "pending") focusNextPending(box.current, d.id);
  };
  const oldestFirst = status === "pending" && !newestFirst;
  const list = oldestFirst ? [...(load.data || [])].reverse() : load.data || [];
  const waiting = list.filter((d) => d.status === "pending").length;
  return html`
    <div class="requests">
      <div class="list-head">
        <div class="segmented" role="group" aria-label="Show">
          <button type="button" aria-pressed=${status === "pending"} onClick=${() => setStatus("pending")}>Pending</button>
          <button type="button" aria-pressed=${status === "resolved"} onClick=${() => setStatus("resolved")}>Answered</button>
        </div>
        ${status === "pending" &&
        html`<label class="filter">Order
          <select value=${newestFirst ? "newest" : "oldest"} onChange=${(e) => setNewestFirst(e.currentTarget.value === "newest")}>
            <option value="oldest">Oldest first</option>
            <option value="newest">Newest first</option>
          </select>
        </label>`}
      </div>
      ${status === "pending" && waiting > 0 && html`<p class="small muted queue-note">${waiting} waiting. After each answer the next one gets the focus.</p>`}
      <${ErrorText} error=${load.error} />
      ${load.data === undefined
        ? html`<${Loading} />`
        : load.data.length === 0
          ? html`<p class="empty muted">${status === "pending" ? "Nothing waiting for you." : "No answered requests yet."}</p>`
          : html`<div class="stack" ref=${box}>${list.map((d) => html`<${DecisionCard} key=${d.id} d=${d} showAgent=${showAgent} onChange=${onChange} />`)}</div>`}
    </div>
  `;
}

export const RequestsPage = () => html`<${AgentFilteredPage} title="Requests" path="/app/requests" List=${RequestList} />`;


/** One request on its own page: where a notification leads. */
export function RequestPage({ id }) {
  const load = useLoad(() => get(`/api/decisions/${encodeURIComponent(id)}`), [id]);
  useFrames((f) => {
    if (f.type === "resync") return load.reload();
    if ((f.type === "decision" || f.type === "decision_resolved") && f.decision?.id === id) load.setData(f.decision);
  });
  const d = load.data;
  return html`
    <main class="page">
      <p class="crumbs"><a href="/app/requests">All requests</a></p>
      <h1 class="sr-only">Request</h1>
      ${load.error
        ? load.error.status === 404
          ? html`<p class="empty muted">This request does not exist (its agent may have been deleted).</p>`
          : html`<${ErrorText} error=${load.error} />`
        : d
          ? html`<${DecisionCard} d=${d} showAgent=${true} onChange=${(x) => load.setData(x)} />`
          : html`<${Loading} />`}
    </main>
  `;
}
