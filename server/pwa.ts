// What makes the inbox an installable app: the web app manifest, the icons
// and the service worker (web/sw.js), all public (browsers fetch the manifest
// without cookies) and served under /app like the inbox. The icons and the
// worker are imported as files, so the compiled binary embeds them.
import swFile from "../web/sw.js" with { type: "file" };
import icon192 from "../web/icons/icon-192.png" with { type: "file" };
import icon512 from "../web/icons/icon-512.png" with { type: "file" };
import maskable192 from "../web/icons/maskable-192.png" with { type: "file" };
import maskable512 from "../web/icons/maskable-512.png" with { type: "file" };
import appleTouch from "../web/icons/apple-touch-icon.png" with { type: "file" };
import favicon32 from "../web/icons/favicon-32.png" with { type: "file" };
import badge96 from "../web/icons/badge-96.png" with { type: "file" };

/** Bun's file loader makes the import the file's path, not the module. */
const SW_FILE = swFile as unknown as string;

export const ICON_FILES: Record<string, string> = {
  "icon-192.png": icon192,
  "icon-512.png": icon512,
  "maskable-192.png": maskable192,
  "maskable-512.png": maskable512,
  "apple-touch-icon.png": appleTouch,
  "favicon-32.png": favicon32,
  "badge-96.png": badge96,
};

// The page background of style.css, light and dark: the app's title bar matches it.
const LIGHT = "#f6f7f9";
const DARK = "#111418";

export const MANIFEST = {
  id: "/app",
  name: "nod",
  short_name: "nod",
  description: "Requests and messages from your AI agents",
  start_url: "/app",
  scope: "/app",
  display: "standalone",
  background_color: LIGHT,
  theme_color: LIGHT,
  icons: [
    { src: "/app/icons/icon-192.png", sizes: "192x192", type: "image/png", purpose: "any" },
    { src: "/app/icons/icon-512.png", sizes: "512x512", type: "image/png", purpose: "any" },
    { src: "/app/icons/maskable-192.png", sizes: "192x192", type: "image/png", purpose: "maskable" },
    { src: "/app/icons/maskable-512.png", sizes: "512x512", type: "image/png", purpose: "maskable" },
  ],
  shortcuts: [{ name: "Requests", url: "/app/requests", icons: [{ src: "/app/icons/icon-192.png", sizes: "192x192" }] }],
};

/** Tags for the inbox page's <head>: manifest, icons, title-bar colours, iOS home-screen app. */
const HEAD = [
  `<link rel="manifest" href="/app/manifest.webmanifest">`,
  `<link rel="icon" type="image/png" sizes="32x32" href="/app/icons/favicon-32.png">`,
  `<link rel="apple-touch-icon" href="/app/icons/apple-touch-icon.png">`,
  `<meta name="theme-color" media="(prefers-color-scheme: light)" content="${LIGHT}">`,
  `<meta name="theme-color" media="(prefers-color-scheme: dark)" content="${DARK}">`,
  `<meta name="mobile-web-app-capable" content="yes">`,
  `<meta name="apple-mobile-web-app-capable" content="yes">`,
  `<meta name="apple-mobile-web-app-title" content="nod">`,
  `<meta name="apple-mobile-web-app-status-bar-style" content="default">`,
].join("");

export const withAppHead = (html: string) => html.replace("</head>", `${HEAD}</head>`);

/** The worker, told which URLs make up the shell; a new bundle gives a new worker (browsers compare bytes). */
export async function serviceWorker(shell: string[], version: string): Promise<string> {
  return `self.__NOD_SHELL__=${JSON.stringify(shell)};self.__NOD_VERSION__=${JSON.stringify(version)};\n${await Bun.file(SW_FILE).text()}`;
}
