// Settings → Notifications: push on this device, the person's devices
// (rename, remove, test), what to be told about, and help for iOS and for
// browsers that said no.
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { get, patch, del, post, api } from "../api.js";
import { useStore } from "../store.js";
import { enableOnThisDevice, disableOnThisDevice, pushSupported, isIOS, isStandalone } from "../push.js";
import { Time, ErrorText, useAction, useLoad, Loading } from "./common.js";
import { soundOn, setSound } from "../attention.js";

export function NotificationsPage() {
  const devices = useLoad(() => get("/api/push/subscriptions"), []);
  return html`
    <main class="page settings">
      <h1>Notifications</h1>
      <p class="muted">nod can tell your phone or computer about new requests even when the inbox is closed. Each device you turn on is listed below.</p>
      <${ThisDevice} devices=${devices.data} onChange=${devices.reload} />
      <${Devices} load=${devices} />
      <${What} />
      <${Sound} />
      <${Help} />
    </main>
  `;
}

/** A beep for each new request while the inbox is open: off unless turned on, remembered by this browser only. */
function Sound() {
  const [on, setOn] = useState(soundOn);
  return html`
    <section class="card" aria-labelledby="sound-h">
      <h2 id="sound-h">Sound</h2>
      <label class="switch">
        <input type="checkbox" checked=${on} onChange=${(e) => (setSound(e.currentTarget.checked), setOn(e.currentTarget.checked))} />
        <span>Beep when a new request comes in (while nod is open in this browser)</span>
      </label>
    </section>
  `;
}

/** Why push cannot be turned on here, in plain words; null when it can. */
function blocker() {
  if (!isSecureContext) return "This page is not served over https. Browsers allow notifications only on https (or on localhost): ask whoever runs nod to put it behind an https reverse proxy.";
  if (isIOS() && !isStandalone()) return html`On iPhone and iPad, notifications work only in the installed app: tap <strong>Share</strong>, then <strong>Add to Home Screen</strong>, open nod from the Home Screen and come back here (iOS 16.4 or later).`;
  if (!pushSupported()) return "This browser cannot receive push notifications. Try a current Chrome, Edge, Firefox or Safari.";
  if (Notification.permission === "denied")
    return html`Notifications are blocked for this site. Allow them in the browser's site settings (the icon left of the address, or Settings → Notifications), then reload this page.`;
  return null;
}

function ThisDevice({ devices, onChange }) {
  const s = useStore();
  const on = Boolean(s.pushEndpoint && devices?.some((d) => d.endpoint === s.pushEndpoint));
  const [done, setDone] = useState(null);
  const enable = useAction(async () => {
    await enableOnThisDevice();
    setDone("Notifications are on for this device.");
    onChange();
  });
  const disable = useAction(async () => {
    await disableOnThisDevice(devices);
    setDone("Notifications are off for this device.");
    onChange();
  });
  const why = blocker();
  return html`
    <section class="card" aria-labelledby="this-h">
      <h2 id="this-h">This device</h2>
      ${why
        ? html`<p class="notice">${why}</p>`
        : on
          ? html`<p>This device gets notifications.</p>
              <button type="button" disabled=${disable.busy} onClick=${disable.run}>Turn off on this device</button>`
          : html`<p>This device does not get notifications yet.</p>
              <button type="button" class="primary" disabled=${enable.busy} onClick=${enable.run}>Enable on this device</button>`}
      ${done && html`<p class="ok" role="status">${done}</p>`}
      <${ErrorText} error=${enable.error || disable.error} />
    </section>
  `;
}

function Devices({ load }) {
  const s = useStore();
  const [sent, setSent] = useState(false);
  const test = useAction(async () => {
    await post("/api/push/test");
    setSent(true);
    setTimeout(load.reload, 1500); // shows the outcome (last delivered / last error)
  });
  const list = load.data;
  return html`
    <section class="card" aria-labelledby="devices-h">
      <div class="row spread">
        <h2 id="devices-h">Your devices</h2>
        ${list?.length ? html`<button type="button" class="small" disabled=${test.busy} onClick=${test.run}>Send a test</button>` : ""}
      </div>
      ${sent && html`<p class="ok" role="status">Test sent to ${list?.length === 1 ? "your device" : `your ${list?.length} devices`}.</p>`}
      <${ErrorText} error=${load.error || test.error} />
      ${list === undefined
        ? html`<${Loading} />`
        : list.length === 0
          ? html`<p class="empty muted">No devices yet. Turn notifications on above, on each phone or computer you use.</p>`
          : html`<ul class="devices">${list.map((d) => html`<${Device} key=${d.id} d=${d} mine=${d.endpoint === s.pushEndpoint} onChange=${load.reload} />`)}</ul>`}
    </section>
  `;
}

function Device({ d, mine, onChange }) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(d.name);
  const rename = useAction(async () => {
    await patch(`/api/push/subscriptions/${d.id}`, { name: name.trim() });
    setEditing(false);
    onChange();
  });
  const remove = useAction(async () => {
    await del(`/api/push/subscriptions/${d.id}`);
    onChange();
  });
  return html`
    <li class="device">
      ${editing
        ? html`<form class="row inline-form" onSubmit=${(e) => (e.preventDefault(), name.trim() && rename.run())}>
            <label class="grow">Name for ${d.name} <input value=${name} maxlength="100" required onInput=${(e) => setName(e.currentTarget.value)} /></label>
            <button class="primary" disabled=${rename.busy}>Save</button>
            <button type="button" onClick=${() => (setEditing(false), setName(d.name))}>Cancel</button>
          </form>`
        : html`<div class="row spread">
            <div>
              <strong>${d.name}</strong>${mine ? html` <span class="chip">This device</span>` : ""}
              <div class="small muted">
                Added <${Time} iso=${d.created_at} />${d.last_success_at ? html` · last delivered <${Time} iso=${d.last_success_at} />` : ""}
              </div>
              ${d.last_error && html`<div class="small warn-text">Last problem: ${d.last_error}</div>`}
            </div>
            <div class="row">
              <button type="button" class="small" aria-label=${`Rename ${d.name}`} onClick=${() => setEditing(true)}>Rename</button>
              <button type="button" class="small danger" aria-label=${`Remove ${d.name}`} disabled=${remove.busy} onClick=${remove.run}>Remove</button>
            </div>
          </div>`}
      <${ErrorText} error=${rename.error || remove.error} />
    </li>
  `;
}

function What() {
  const s = useStore();
  const load = useLoad(() => get("/api/push/settings"), []);
  const put = useAction(async (change) => {
    load.setData(await api("PUT", "/api/push/settings", change));
  });
  // The box shows the change at once (a controlled checkbox would snap back while the request runs).
  const save = { ...put, run: (change) => (load.setData({ ...load.data, ...change }), put.run(change)) };
  const v = load.data;
  if (!v) return html`<section class="card" aria-labelledby="what-h"><h2 id="what-h">What to tell you</h2><${ErrorText} error=${load.error} />${!load.error && html`<${Loading} />`}</section>`;
  const muted = new Set(v.muted_agents);
  const toggleAgent = (id, on) => save.run({ muted_agents: on ? v.muted_agents.filter((x) => x !== id) : [...v.muted_agents, id] });
  return html`
    <section class="card" aria-labelledby="what-h">
      <h2 id="what-h">What to tell you</h2>
      <p class="small muted">These settings are yours and apply to all your devices.</p>
      <label class="switch"><input type="checkbox" checked disabled /> New requests from every agent (always)</label>
      <label class="switch"><input type="checkbox" checked=${v.messages} disabled=${save.busy} onChange=${(e) => save.run({ messages: e.currentTarget.checked })} /> Messages from agents</label>
      <label class="switch"><input type="checkbox" checked=${v.failed_runs} disabled=${save.busy} onChange=${(e) => save.run({ failed_runs: e.currentTarget.checked })} /> Failed task runs</label>
      ${s.agents.length > 0 &&
      html`<fieldset class="agents-muted">
        <legend>Messages and failed runs from</legend>
        ${s.agents.map(
          (a) => html`<label class="switch"><input type="checkbox" checked=${!muted.has(a.id)} disabled=${save.busy} onChange=${(e) => toggleAgent(a.id, e.currentTarget.checked)} /> ${a.name}</label>`,
        )}
      </fieldset>`}
      <${ErrorText} error=${save.error} />
    </section>
  `;
}

const Help = () => html`
  <section class="card help" aria-labelledby="help-h">
    <h2 id="help-h">Help</h2>
    <h3 class="small-h">iPhone and iPad</h3>
    <p>Needs iOS or iPadOS 16.4 or later. In Safari, tap <strong>Share</strong> → <strong>Add to Home Screen</strong>. Open nod from the Home Screen, sign in, come back to this page and tap <strong>Enable on this device</strong>.</p>
    <h3 class="small-h">Android and desktop</h3>
    <p>Tap <strong>Enable on this device</strong> and allow notifications when the browser asks. Installing nod (the browser's <strong>Install app</strong> or <strong>Add to Home screen</strong>) is optional; it gives nod its own icon with the number of pending requests.</p>
    <h3 class="small-h">Nothing arrives?</h3>
    <p>Send a test. If the browser refused or you blocked notifications earlier, allow them in its site settings for this address and reload. Check that the system does not silence the browser (Focus, Do Not Disturb, battery savers). A device that was removed by its browser disappears from the list: enable it again.</p>
  </section>
`;
