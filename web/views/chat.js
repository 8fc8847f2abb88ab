// Chat with an interactive agent: conversations, messages (safe markdown,
// images, report cards, task results), request cards, the Thinking… bubble
// and the composer (Enter sends, Shift+Enter makes a new line).
import { html } from "htm/preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { get, post, qs } from "../api.js";
import { useStore, useFrames, procKey } from "../store.js";
import { Markdown, safeUrl } from "../markdown.js";
import { clean } from "../text.js";
import { Time, ErrorText, useAction, Loading } from "./common.js";
import { DecisionCard, upsert } from "./requests.js";
import { useRoute } from "../router.js";

const PAGE = 50;

const mergeMessages = (a, b) => {
  const byId = new Map(a.map((m) => [m.id, m]));
  for (const m of b) byId.set(m.id, m);
  return [...byId.values()].sort((x, y) => (x.id < y.id ? -1 : 1));
};

const nearBottom = () => window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 120;
const toBottom = () => requestAnimationFrame(() => window.scrollTo(0, document.documentElement.scrollHeight));

export function Chat({ agent }) {
  const s = useStore();
  const [convs, setConvs] = useState(null);
  const wanted = useRoute().query.get("conversation"); // ?conversation=conv_… (a notification's link)
  const [cid, setCid] = useState(wanted);
  const [messages, setMessages] = useState(null);
  const [hasOlder, setHasOlder] = useState(false);
  const [decisions, setDecisions] = useState([]);
  const [error, setError] = useState(null);

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
      const stick = !merge || nearBottom();
      const page = await get(`/api/conversations/${id}/messages${qs({ limit: PAGE })}`);
      if (cidRef.current && cidRef.current !== id) return; // another conversation was opened meanwhile
      setMessages((cur) => (merge && cur ? mergeMessages(cur, page) : page));
      if (!merge) setHasOlder(page.length >= PAGE);
      if (stick) toBottom();
    } catch (e) {
      setError(e);
    }
  };
  const loadDecisions = async () => {
    try {
      setDecisions(await get(`/api/decisions${qs({ agent_id: agent.id, limit: 200 })}`));
    } catch {}
  };
  const markRead = (id = cid) => {
    if (id && !document.hidden) post(`/api/conversations/${id}/read`).catch(() => {});
  };

  useEffect(() => {
    loadConvs();
    loadDecisions();
  }, [agent.id]);
  useEffect(() => {
    if (wanted && wanted !== cid) {
      setCid(wanted);
      if (!(convs || []).some((c) => c.id === wanted)) loadConvs();
    }
  }, [wanted]);
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

  useFrames((f) => {
    if (f.type === "resync") {
      loadConvs();
      loadDecisions();
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
      setConvs((cur) => (cur || []).some((c) => c.id === f.conversation.id) ? cur : [f.conversation, ...(cur || [])]);
      setCid((cur) => cur || f.conversation.id);
    } else if ((f.type === "decision" || f.type === "decision_resolved") && f.decision?.agent_id === agent.id) {
      const stick = nearBottom();
      setDecisions((cur) => upsert(cur, f.decision));
      if (stick && f.type === "decision") toBottom();
    }
  });

  const older = async () => {
    const first = messages?.[0];
    if (!first) return;
    const page = await get(`/api/conversations/${cid}/messages${qs({ before: first.id, limit: PAGE })}`);
    setMessages((cur) => mergeMessages(cur || [], page));
    setHasOlder(page.length >= PAGE);
  };

  const conv = convs?.find((c) => c.id === cid);
  const shown = decisions.filter((d) => d.conversation_id && d.conversation_id === cid);
  const timeline = [...(messages || []).map((m) => ({ at: m.created_at, id: m.id, m })), ...shown.map((d) => ({ at: d.created_at, id: d.id, d }))].sort(
    (a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.id < b.id ? -1 : 1),
  );
  const thinkingKey = [procKey(agent.id, cid), conv?.is_default || !cid ? procKey(agent.id, null) : null].find((k) => k && k in s.processing);
  const thinking = thinkingKey !== undefined ? s.processing[thinkingKey] : null;
  const otherPending = decisions.filter((d) => d.status === "pending" && d.conversation_id !== cid).length;

  return html`
    <section class="chat" aria-label=${`Chat with ${agent.name}`}>
      ${convs && convs.length > 1 &&
      html`<label class="filter conv-pick">Conversation
        <select value=${cid || ""} onChange=${(e) => setCid(e.currentTarget.value)}>
          ${convs.map((c) => html`<option value=${c.id}>${c.title || c.id}</option>`)}
        </select>
      </label>`}
      ${otherPending > 0 &&
      html`<p class="notice"><a href=${`/app/agents/${agent.id}/requests`}>${otherPending} more pending ${otherPending === 1 ? "request" : "requests"} outside this conversation</a></p>`}
      <${ErrorText} error=${error} />
      ${hasOlder && html`<button type="button" class="more" onClick=${older}>Show older messages</button>`}
      <div class="log" role="log" aria-live="polite" aria-label="Messages">
        ${messages === null && html`<${Loading} />`}
        ${messages && !timeline.length && !thinking && html`<p class="empty muted">No messages yet. Say hello: ${agent.name} receives it as a user_message event.</p>`}
        ${timeline.map((t) => (t.m ? html`<${Bubble} key=${t.id} m=${t.m} agent=${agent} />` : html`<div key=${t.id} class="in-chat"><${DecisionCard} d=${t.d} onChange=${(d) => setDecisions((cur) => upsert(cur, d))} /></div>`))}
        ${thinking !== null && thinking !== undefined &&
        html`<div class="bubble agent thinking" role="status"><span class="dots" aria-hidden="true"><i></i><i></i><i></i></span> ${!thinking || thinking === "Thinking" ? "Thinking…" : thinking}</div>`}
      </div>
      <${Composer} agent=${agent} cid=${cid} onSent=${(r) => {
        if (!cid) setCid(r.conversation_id);
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

function Bubble({ m, agent }) {
  const [open, setOpen] = useState(false);
  const mine = m.role === "user";
  const img = imageSrc(m.image_url);
  if (m.role === "task") {
    return html`
      <article class="bubble task" aria-label="Task result">
        <div class="bubble-meta"><span class="chip">Task result</span> <${Time} iso=${m.created_at} /></div>
        ${m.report_title && html`<h3>${clean(m.report_title)}</h3>`}
        <${Markdown} text=${m.text} />
      </article>`;
  }
  return html`
    <div class=${`bubble ${mine ? "user" : "agent"}`}>
      ${m.report_title
        ? html`<button type="button" class="report" onClick=${() => setOpen(true)} aria-label=${`Open report: ${clean(m.report_title)}`}>
            <span class="report-icon" aria-hidden="true">▤</span>
            <span><strong>${clean(m.report_title)}</strong>${m.report_description && html`<br /><span class="muted small">${clean(m.report_description)}</span>`}</span>
          </button>`
        : m.text && html`<${Markdown} text=${m.text} />`}
      ${img && html`<a href=${img} target="_blank" rel="noopener noreferrer"><img class="msg-img" src=${img} alt=${`Image from ${mine ? m.sender_name || "you" : agent.name}`} loading="lazy" /></a>`}
      <div class="bubble-meta">${mine && m.sender_name ? `${m.sender_name} · ` : ""}<${Time} iso=${m.created_at} />${mine && html`<${Delivery} id=${m.id} agent=${agent} />`}</div>
      ${open && html`<${Report} m=${m} onClose=${() => setOpen(false)} />`}
    </div>
  `;
}

/** What the live socket said about getting this message to the agent. */
function Delivery({ id, agent }) {
  const s = useStore();
  const st = s.delivery[id];
  if (st === "delivered") return html` · <span class="delivered">delivered</span>`;
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

function Composer({ agent, cid, onSent }) {
  const [text, setText] = useState("");
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
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && !e.altKey && !e.ctrlKey && !e.metaKey) {
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
        <textarea ref=${ta} rows="1" aria-label=${`Message to ${agent.name}`} placeholder=${`Message ${agent.name}`} value=${text}
          onInput=${(e) => setText(e.currentTarget.value)} onKeyDown=${onKey}></textarea>
        <button class="primary" disabled=${busy || !text.trim()}>Send</button>
      </div>
      <p class="hint small muted">Enter sends, Shift+Enter makes a new line.</p>
    </form>
  `;
}
