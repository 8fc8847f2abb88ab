// Chat with an interactive agent: conversations, messages (safe markdown,
// images, report cards, task results with their run's status), request cards
// in time order, the agent's pending requests without a conversation pinned
// above the composer, the Thinking… bubble and the composer (Enter sends and
// Shift+Enter makes a new line; on touch screens Enter makes a new line and
// the button sends).
import { html } from "htm/preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { get, post, qs } from "../api.js";
import { useStore, useFrames, procKey, setState, state, seq, bySeq, runOf } from "../store.js";
import { Markdown, safeUrl } from "../markdown.js";
import { clean } from "../text.js";
import { Time, ErrorText, useAction, Loading } from "./common.js";
import { DecisionCard, upsert, focusNextPending } from "./requests.js";
import { useRoute } from "../router.js";

const PAGE = 50;

const mergeMessages = (a, b) => {
  const byId = new Map(a.map((m) => [m.id, m]));
  for (const m of b) byId.set(m.id, m);
  return [...byId.values()].sort(bySeq);
};

const nearBottom = () => window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 120;
const toBottom = () => requestAnimationFrame(() => window.scrollTo(0, document.documentElement.scrollHeight));

/** Messages to this agent that have not reached it yet, from GET /api/deliveries (the live marks start from here). */
async function loadDeliveries(agentId) {
  try {
    const rows = await get(`/api/deliveries${qs({ agent_id: agentId, limit: 100 })}`);
    const marks = {};
    for (const r of rows) if (r.message_id && state.delivery[r.message_id] !== "delivered") marks[r.message_id] = r.status === "undelivered" ? "undelivered" : "queued";
    if (Object.keys(marks).length) setState({ delivery: { ...state.delivery, ...marks } });
  } catch {}
}

export function Chat({ agent }) {
  const s = useStore();
  const { query } = useRoute();
  const wanted = query.get("conversation"); // ?conversation=conv_… (a notification's link)
  const target = query.get("message"); // ?message=msg_… (the activity feed's link)
  const [convs, setConvs] = useState(null);
  const [cid, setCid] = useState(wanted);
  const [messages, setMessages] = useState(null);
  const [hasOlder, setHasOlder] = useState(false);
  const [decisions, setDecisions] = useState([]);
  const [answeredHere, setAnsweredHere] = useState([]); // pinned requests answered in this view stay pinned, with their outcome
  const [found, setFound] = useState(null); // the message ?message= asked for, once shown
  const [error, setError] = useState(null);
  const keep = useRef(null); // distance from the bottom to keep while older messages go in above
  const pinBox = useRef();
  const targetRef = useRef(target);
  targetRef.current = target;

  const loadConvs = async () => {
    try {
      const list = await get(`/api/agents/${agent.id}/conversations`);
      setConvs(list);
      setCid((cur) => (cur && list.some((c) => c.id === cur) ? cur : list[0]?.id ?? null));
      if (!list.length) setMessages([]);
    } catch (e) {
      setError(e);
    }
  };
  const cidRef = useRef(cid);
  cidRef.current = cid;
  const loadMessages = async (id, merge = false) => {
    try {
      const stick = !targetRef.current && (!merge || nearBottom());
      const page = await get(`/api/conversations/${id}/messages${qs({ limit: PAGE })}`);
      if (cidRef.current && cidRef.current !== id) return; // another conversation was opened meanwhile
      setMessages((cur) => (merge && cur ? mergeMessages(cur, page) : page));
      if (!merge) setHasOlder(page.length >= PAGE);
      if (stick) toBottom();
    } catch (e) {
      setError(e);
    }
  };
  // Every pending request (they are pinned) and the latest 200 (the timeline).
  const loadDecisions = async () => {
    try {
      const [pending, recent] = await Promise.all([
        get(`/api/decisions${qs({ agent_id: agent.id, status: "pending", limit: 100 })}`),
        get(`/api/decisions${qs({ agent_id: agent.id, limit: 200 })}`),
      ]);
      const stick = nearBottom();
      setDecisions(pending.reduce(upsert, recent));
      if (stick) toBottom(); // pinned requests come in below the messages: keep the bottom in view
    } catch {}
  };
  const markRead = (id = cid) => {
    if (id && !document.hidden) post(`/api/conversations/${id}/read`).catch(() => {});
  };

  useEffect(() => {
    loadConvs();
    loadDecisions();
    loadDeliveries(agent.id);
  }, [agent.id]);
  useEffect(() => {
    if (wanted && wanted !== cid) {
      setCid(wanted);
      if (!(convs || []).some((c) => c.id === wanted)) loadConvs();
    }
  }, [wanted]);
  // ?message=: open its conversation; the effect below pages back until it is shown.
  useEffect(() => {
    if (!target) return;
    setFound(null);
    get(`/api/messages/${encodeURIComponent(target)}`)
      .then((m) => m.conversation_id !== cidRef.current && setCid(m.conversation_id))
      .catch(setError);
  }, [target]);
  const pagesBack = useRef(0);
  useEffect(() => {
    if (!target || !messages || found === target) return;
    if (messages.some((m) => m.id === target)) {
      setFound(target);
      requestAnimationFrame(() => document.getElementById(`m-${target}`)?.scrollIntoView({ block: "center" }));
    } else if (hasOlder && messages.length && pagesBack.current++ < 20) older();
  }, [messages, target]);
  useEffect(() => {
    if (!cid) return;
    setMessages(null);
    loadMessages(cid);
    markRead(cid);
    s.viewing = cid;
    return () => (s.viewing = null);
  }, [cid]);
  useEffect(() => {
    const onVis = () => !document.hidden && markRead();
    document.addEventListener("visibilitychange", onVis);
    return () => document.removeEventListener("visibilitychange", onVis);
  }, [cid]);
  // "Show older messages" keeps your place: the messages you were reading stay where they were.
  useLayoutEffect(() => {
    if (keep.current === null) return;
    window.scrollTo(0, document.documentElement.scrollHeight - keep.current);
    keep.current = null;
  }, [messages]);

  useFrames((f) => {
    if (f.type === "resync") {
      loadConvs();
      loadDecisions();
      loadDeliveries(agent.id);
      if (cid) loadMessages(cid, true);
    } else if (f.type === "message" && f.message?.agent_id === agent.id) {
      const m = f.message;
      if (m.conversation_id === cid) {
        const stick = nearBottom();
        setMessages((cur) => mergeMessages(cur || [], [m]));
        if (stick || m.role === "user") toBottom();
        if (m.role !== "user") markRead();
      } else if (!cid || !(convs || []).some((c) => c.id === m.conversation_id)) loadConvs();
    } else if (f.type === "conversation" && f.conversation?.agent_id === agent.id) {
      setConvs((cur) => ((cur || []).some((c) => c.id === f.conversation.id) ? cur : [f.conversation, ...(cur || [])]));
      setCid((cur) => cur || f.conversation.id);
    } else if ((f.type === "decision" || f.type === "decision_resolved") && f.decision?.agent_id === agent.id) {
      const stick = nearBottom();
      setDecisions((cur) => upsert(cur, f.decision));
      if (stick && f.type === "decision") toBottom();
    }
  });

  async function older() {
    const first = messages?.[0];
    if (!first) return;
    const page = await get(`/api/conversations/${cid}/messages${qs({ before: first.id, limit: PAGE })}`);
    keep.current = document.documentElement.scrollHeight - window.scrollY;
    setMessages((cur) => mergeMessages(cur || [], page));
    setHasOlder(page.length >= PAGE);
  }

  const conv = convs?.find((c) => c.id === cid);
  // Requests without a conversation (the Claude Code hook, `nod ask`) belong to the agent's default conversation.
  const here = (d) => (d.conversation_id ? d.conversation_id === cid : !conv || conv.is_default || (convs || []).length <= 1);
  const pinned = decisions.filter((d) => !d.conversation_id && (d.status === "pending" || answeredHere.includes(d.id))).sort(bySeq);
  const pinnedIds = new Set(pinned.map((d) => d.id));
  const oldest = hasOlder && messages?.length ? seq(messages[0].id) : "";
  const shown = decisions.filter((d) => here(d) && !pinnedIds.has(d.id) && seq(d.id) >= oldest);
  const timeline = [...(messages || []).map((m) => ({ id: m.id, m })), ...shown.map((d) => ({ id: d.id, d }))].sort(bySeq);
  const thinkingKey = [procKey(agent.id, cid), conv?.is_default || !cid ? procKey(agent.id, null) : null].find((k) => k && k in s.processing);
  const thinking = thinkingKey !== undefined ? s.processing[thinkingKey] : null;
  const elsewhere = decisions.filter((d) => d.status === "pending" && d.conversation_id && d.conversation_id !== cid).length;
  const waiting = pinned.filter((d) => d.status === "pending").length;
  const answeredPinned = (d) => {
    setDecisions((cur) => upsert(cur, d));
    setAnsweredHere((cur) => [...cur, d.id]);
    focusNextPending(pinBox.current, d.id);
  };

  return html`
    <section class="chat" aria-label=${`Chat with ${agent.name}`}>
      ${convs && convs.length > 1 &&
      html`<label class="filter conv-pick">Conversation
        <select value=${cid || ""} onChange=${(e) => setCid(e.currentTarget.value)}>
          ${convs.map((c) => html`<option value=${c.id}>${c.title || c.id}</option>`)}
        </select>
      </label>`}
      <${ErrorText} error=${error} />
      ${hasOlder && html`<button type="button" class="more" onClick=${older}>Show older messages</button>`}
      <div class="log" role="log" aria-live="polite" aria-label="Messages">
        ${messages === null && html`<${Loading} />`}
        ${messages && !timeline.length && !thinking && !pinned.length && html`<p class="empty muted">No messages yet. Say hello: ${agent.name} receives it as a user_message event.</p>`}
        ${timeline.map((t) =>
          t.m
            ? html`<${Bubble} key=${t.id} m=${t.m} agent=${agent} target=${t.id === found} />`
            : html`<div key=${t.id} class="in-chat"><${DecisionCard} d=${t.d} onChange=${(d) => setDecisions((cur) => upsert(cur, d))} /></div>`,
        )}
        ${thinking !== null && thinking !== undefined &&
        html`<div class="bubble agent thinking" role="status"><span class="dots" aria-hidden="true"><i></i><i></i><i></i></span> ${!thinking || thinking === "Thinking" ? "Thinking…" : thinking}</div>`}
      </div>
      ${(pinned.length > 0 || elsewhere > 0) &&
      html`<section class="pinned" aria-label="Waiting for your answer" ref=${pinBox}>
        ${waiting > 0 && html`<h2 class="pinned-h">${waiting === 1 ? "1 request waits" : `${waiting} requests wait`} for your answer</h2>`}
        ${pinned.map((d) => html`<div key=${d.id} class="in-chat"><${DecisionCard} d=${d} onChange=${answeredPinned} /></div>`)}
        ${elsewhere > 0 &&
        html`<p class="notice"><a href=${`/app/agents/${agent.id}/requests`}>${elsewhere} more pending ${elsewhere === 1 ? "request" : "requests"} in other conversations</a></p>`}
      </section>`}
      <${Composer} agent=${agent} cid=${cid} onSent=${(r) => {
        if (!cid) setCid(r.conversation_id);
        // An agent that is offline and has no webhook gets it when it next connects: say so until then.
        if (!agent.online && !agent.webhook_url && state.delivery[r.message_id] !== "delivered")
          setState({ delivery: { ...state.delivery, [r.message_id]: "queued" } });
        loadMessages(r.conversation_id, true);
        if (!convs?.some((c) => c.id === r.conversation_id)) loadConvs();
      }} />
    </section>
  `;
}

// nod's own media (<public-url>/media/<name>) load from the origin the inbox is
// open at: the public URL may say localhost while a phone uses the LAN address.
const OWN_MEDIA = /^https?:\/\/[^/]+(\/media\/[0-9a-f]{32}\.(?:png|jpg|gif|webp))$/;

function imageSrc(url) {
  if (typeof url === "string" && url.startsWith("/") && !url.startsWith("//")) return url;
  const own = typeof url === "string" && OWN_MEDIA.exec(url);
  return own ? own[1] : safeUrl(url);
}

const RUN_STATE = { due: "running", running: "running", completed: "completed", failed: "failed" };
const RUN_LABEL = { running: "Task running", completed: "Task completed", failed: "Task failed" };

/** A task run's result: its run's status (red and "failed" when it failed), and a link to the run. */
function TaskBubble({ m, target }) {
  useStore();
  const run = runOf(m.task_run_id);
  const st = RUN_STATE[run?.status] || "unknown";
  const label = RUN_LABEL[st] || "Task result";
  const name = clean(m.report_title);
  return html`
    <article id=${`m-${m.id}`} class="bubble task task-${st} ${target ? "target" : ""}" aria-label=${`${label}${name ? `: ${name}` : ""}`}>
      <div class="bubble-meta">
        <span class="chip run-chip">${st === "failed" ? "✗ " : st === "completed" ? "✓ " : ""}${label}</span> <${Time} iso=${m.created_at} />
        ${m.task_run_id && html` · <a href=${`/app/runs/${m.task_run_id}`}>Open run</a>`}
      </div>
      ${name && html`<h3>${name}</h3>`}
      ${m.text ? html`<${Markdown} text=${m.text} />` : html`<p class="small muted">No summary.</p>`}
    </article>`;
}

function Bubble({ m, agent, target }) {
  const [open, setOpen] = useState(false);
  const mine = m.role === "user";
  const img = imageSrc(m.image_url);
  if (m.role === "task") return html`<${TaskBubble} m=${m} target=${target} />`;
  return html`
    <div id=${`m-${m.id}`} class=${`bubble ${mine ? "user" : "agent"} ${target ? "target" : ""}`}>
      ${m.report_title
        ? html`<button type="button" class="report" onClick=${() => setOpen(true)} aria-label=${`Open report: ${clean(m.report_title)}`}>
            <span class="report-icon" aria-hidden="true">▤</span>
            <span><strong>${clean(m.report_title)}</strong>${m.report_description && html`<br /><span class="muted small">${clean(m.report_description)}</span>`}</span>
          </button>`
        : m.text && html`<${Markdown} text=${m.text} />`}
      ${img && html`<a href=${img} target="_blank" rel="noopener noreferrer"><img class="msg-img" src=${img} alt=${`Image from ${mine ? m.sender_name || "you" : agent.name}`} loading="lazy" /></a>`}
      <div class="bubble-meta">
        ${mine && m.sender_name ? `${m.sender_name} · ` : ""}<${Time} iso=${m.created_at} />${m.task_run_id && html` · <a href=${`/app/runs/${m.task_run_id}`}>Open run</a>`}${mine && html`<${Delivery} id=${m.id} agent=${agent} />`}
      </div>
      ${open && html`<${Report} m=${m} onClose=${() => setOpen(false)} />`}
    </div>
  `;
}

/** Whether this message reached the agent: queued (waits for it), delivered, or not delivered after the webhook's retries. */
function Delivery({ id, agent }) {
  const s = useStore();
  const st = s.delivery[id];
  if (st === "delivered") return html` · <span class="delivered">delivered</span>`;
  if (st === "queued") return html` · <span class="queued" role="status">queued: ${agent.name} is offline and gets it when it next connects</span>`;
  if (st === "undelivered") return html`<br /><span class="undelivered" role="status">Not delivered yet: ${agent.name} gets it when it next connects.</span>`;
  return null;
}

/** A report opened full screen: a modal <dialog> (keeps focus inside; Escape closes). */
function Report({ m, onClose }) {
  const ref = useRef();
  useEffect(() => {
    const dlg = ref.current;
    const prev = document.activeElement;
    if (dlg && !dlg.open) dlg.showModal ? dlg.showModal() : dlg.setAttribute("open", "");
    document.body.classList.add("modal-open");
    return () => {
      document.body.classList.remove("modal-open");
      prev?.focus?.();
    };
  }, []);
  return html`
    <dialog ref=${ref} class="report-full" aria-labelledby=${`rep-${m.id}`} onClose=${onClose} onCancel=${(e) => (e.preventDefault(), onClose())}>
      <div class="report-bar">
        <h2 id=${`rep-${m.id}`}>${clean(m.report_title)}</h2>
        <button type="button" onClick=${onClose} aria-label="Close report" autofocus>Close</button>
      </div>
      <div class="report-body">
        ${m.report_description && html`<p class="muted">${m.report_description}</p>`}
        <${Markdown} text=${m.text} />
      </div>
    </dialog>
  `;
}

// A phone's keyboard has no Shift+Enter: on a touch screen Enter makes a new line and the Send button sends.
const touchScreen = () => typeof matchMedia === "function" && matchMedia("(pointer: coarse)").matches;

function Composer({ agent, cid, onSent }) {
  const [text, setText] = useState("");
  const [touch] = useState(touchScreen);
  const ta = useRef();
  const { run, busy, error } = useAction(async () => {
    const body = text.trim();
    if (!body) return;
    const r = await post(`/api/agents/${agent.id}/messages`, { text: body, ...(cid ? { conversation_id: cid } : {}) });
    setText("");
    onSent(r);
    ta.current?.focus();
  });
  const onKey = (e) => {
    if (!touch && e.key === "Enter" && !e.shiftKey && !e.isComposing && !e.altKey && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      if (!busy) run();
    }
  };
  // Grow with the text, up to a limit.
  useEffect(() => {
    const el = ta.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = Math.min(el.scrollHeight + 2, 200) + "px";
  }, [text]);
  return html`
    <form class="composer" onSubmit=${(e) => (e.preventDefault(), run())}>
      <${ErrorText} error=${error} />
      <div class="row">
        <textarea ref=${ta} rows="1" aria-label=${`Message to ${agent.name}`} placeholder=${`Message ${agent.name}`} value=${text} enterkeyhint=${touch ? "enter" : "send"}
          onInput=${(e) => setText(e.currentTarget.value)} onKeyDown=${onKey}></textarea>
        <button class="primary" disabled=${busy || !text.trim()}>Send</button>
      </div>
      ${!touch && html`<p class="hint small muted">Enter sends, Shift+Enter makes a new line.</p>`}
    </form>
  `;
}
