#!/usr/bin/env bun
// Draws nod's app icons (web/icons/*.png) from one SVG with headless Chromium.
// The PNGs are checked in; run this again only when the drawing changes:
//
//   bun run scripts/icons.ts
//
// "any" icons have rounded corners and a transparent outside; "maskable" ones
// fill the square and keep the drawing inside the central 80 % circle, the
// part every launcher mask shows.
import path from "node:path";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const OUT = path.resolve(import.meta.dir, "../web/icons");
const ACCENT = "#2f62d8";

const BUBBLE = "M136 120h240a56 56 0 0 1 56 56v136a56 56 0 0 1-56 56H250l-86 66v-66h-28a56 56 0 0 1-56-56V176a56 56 0 0 1 56-56z";
const CHECK = "M186 246l52 52 100-104";

interface Icon {
  name: string;
  size: number;
  rounded: boolean;
  scale: number; // shrinks the drawing (maskable icons keep to the safe zone)
  mono?: boolean; // Android's status-bar badge: white on transparent, the check cut out
}

/** A speech bubble with a check mark: an agent asks, a person nods. */
function svg({ size, rounded, scale, mono }: Icon) {
  const inner = mono
    ? `<defs><mask id="m"><rect width="512" height="512" fill="#fff"/><path d="${CHECK}" fill="none" stroke="#000" stroke-width="44" stroke-linecap="round" stroke-linejoin="round"/></mask></defs>
       <path d="${BUBBLE}" fill="#fff" mask="url(#m)"/>`
    : `<path d="${BUBBLE}" fill="#fff"/>
       <path d="${CHECK}" fill="none" stroke="${ACCENT}" stroke-width="44" stroke-linecap="round" stroke-linejoin="round"/>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 512 512">
  ${mono ? "" : `<rect width="512" height="512" rx="${rounded ? 0.22 * 512 : 0}" fill="${ACCENT}"/>`}
  <g transform="translate(256 256) scale(${scale}) translate(-256 -256)">${inner}</g>
</svg>`;
}

const ICONS: Icon[] = [
  { name: "icon-192.png", size: 192, rounded: true, scale: 0.92 },
  { name: "icon-512.png", size: 512, rounded: true, scale: 0.92 },
  { name: "maskable-192.png", size: 192, rounded: false, scale: 0.72 },
  { name: "maskable-512.png", size: 512, rounded: false, scale: 0.72 },
  { name: "apple-touch-icon.png", size: 180, rounded: false, scale: 0.8 }, // iOS rounds the corners itself
  { name: "favicon-32.png", size: 32, rounded: true, scale: 1 },
  { name: "badge-96.png", size: 96, rounded: false, scale: 1.1, mono: true },
];

if (import.meta.main) {
  mkdirSync(OUT, { recursive: true });
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu"] });
  const page = await browser.newPage();
  for (const icon of ICONS) {
    const drawing = svg(icon);
    await page.setViewportSize({ width: icon.size, height: icon.size });
    await page.setContent(`<html><body style="margin:0;background:transparent">${drawing}</body></html>`);
    await page.locator("svg").screenshot({ path: path.join(OUT, icon.name), omitBackground: true });
    console.log(`wrote web/icons/${icon.name}`);
  }
  await browser.close();
}
