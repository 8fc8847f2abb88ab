// What tells a person that something waits, when the inbox is only a tab:
// the title counts pending requests and unread messages, the favicon gets a
// badge with that number (drawn on a canvas from the app's own icon), and,
// if they turned it on, a short beep plays for each new request (WebAudio, no
// sound file; the setting lives in this browser's localStorage).

let plainIcon = null; // the favicon's own URL, restored at zero
let iconImage = null; // the icon, loaded once

function iconLink() {
  let link = document.querySelector('link[rel="icon"]');
  if (!link) {
    link = document.createElement("link");
    link.rel = "icon";
    link.href = "/app/icons/favicon-32.png";
    document.head.appendChild(link);
  }
  if (plainIcon === null) plainIcon = link.href;
  return link;
}

function loadIcon() {
  if (!iconImage)
    iconImage = new Promise((resolve) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => resolve(null); // no icon: the badge is drawn alone
      img.src = plainIcon;
    });
  return iconImage;
}

let drawn = 0;
/** The favicon with a red badge showing n (9+ above nine); the plain icon at zero. */
export async function setFaviconBadge(n) {
  const link = iconLink();
  drawn = n;
  if (!n) {
    link.href = plainIcon;
    link.removeAttribute("data-badge");
    return;
  }
  const img = await loadIcon();
  if (drawn !== n) return; // a newer count came in while the icon loaded
  const size = 64;
  const c = document.createElement("canvas");
  c.width = c.height = size;
  const g = c.getContext("2d");
  if (!g) return;
  if (img) g.drawImage(img, 0, 0, size, size);
  const r = 19;
  const x = size - r - 1;
  const y = r + 1;
  g.beginPath();
  g.arc(x, y, r, 0, 2 * Math.PI);
  g.fillStyle = "#d93025";
  g.fill();
  g.lineWidth = 3;
  g.strokeStyle = "#ffffff";
  g.stroke();
  g.fillStyle = "#ffffff";
  g.font = `bold ${n > 9 ? 22 : 28}px system-ui, sans-serif`;
  g.textAlign = "center";
  g.textBaseline = "middle";
  g.fillText(n > 9 ? "9+" : String(n), x, y + 2);
  link.href = c.toDataURL("image/png");
  link.setAttribute("data-badge", String(n));
}

/** "(3) nod": what waits for you, requests and unread messages together. */
export const titleFor = (n) => (n ? `(${n}) nod` : "nod");

// ---- the sound ----
const KEY = "nod.sound";
export const soundOn = () => {
  try {
    return localStorage.getItem(KEY) === "on";
  } catch {
    return false;
  }
};
export function setSound(on) {
  try {
    if (on) localStorage.setItem(KEY, "on");
    else localStorage.removeItem(KEY);
  } catch {}
  if (on) beep(); // turning it on is a click: it unlocks audio, and lets you hear it
}

let audio = null;
/** A short, soft two-tone beep. */
export function beep() {
  const AC = window.AudioContext || window.webkitAudioContext;
  if (!AC) return;
  try {
    audio = audio || new AC();
    if (audio.state === "suspended") audio.resume();
    const t = audio.currentTime;
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.setValueAtTime(880, t);
    osc.frequency.setValueAtTime(1320, t + 0.09);
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.2, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.22);
    osc.connect(gain).connect(audio.destination);
    osc.start(t);
    osc.stop(t + 0.24);
  } catch {}
}

/** A new request came in: beep, if this browser wants that. */
export function newRequest() {
  if (soundOn()) beep();
}
