// The inbox's files. In a checkout they are bundled from web/ by Bun's bundler
// when the first server of the process starts; in the compiled binary they are
// the same bundle, made by scripts/build.ts and embedded as an asset. Either
// way they are held in memory, gzipped once, and served with cache headers:
// the page itself is revalidated on every load (no-cache + ETag), the hashed
// JS and CSS under /app/assets/ are cached for a year (immutable). pwa.ts
// adds what makes it an installable app (manifest, icons, service worker).
import { Elysia } from "elysia";
import { readdirSync, readFileSync, watch } from "node:fs";
import path from "node:path";
import { assetDir } from "./paths.ts";
import { ICON_FILES, MANIFEST, serviceWorker, withAppHead } from "./pwa.ts";

export const ASSET_PREFIX = "/app/assets/";
/** Where scripts/build.ts writes the bundle (embedded in the binary as /$bunfs/root/inbox). */
export const BUNDLE_DIR = "dist/inbox";
const WEB_ENTRY = path.resolve(import.meta.dir, "../web/index.html");

interface WebFile {
  body: Uint8Array<ArrayBuffer>;
  gzip: Uint8Array<ArrayBuffer> | null;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".webmanifest": "application/manifest+json",
};

/** Bundles web/index.html: minified, hashed names, URLs under /app/assets/. */
export function bundleWebApp() {
  return Bun.build({
    entrypoints: [WEB_ENTRY],
    minify: true,
    publicPath: ASSET_PREFIX,
    naming: { entry: "[name]-[hash].[ext]", chunk: "[name]-[hash].[ext]", asset: "[name]-[hash].[ext]" },
  });
}

function webFile(name: string, bytes: Uint8Array<ArrayBuffer>): WebFile {
  const type = TYPES[path.extname(name)] ?? "application/octet-stream";
  const compressible = /^(text\/|image\/svg|application\/manifest)/.test(type);
  return { body: bytes, gzip: compressible ? Bun.gzipSync(bytes) : null, type, etag: `"${Bun.hash(bytes).toString(36)}"` };
}

async function loadFiles(): Promise<Map<string, WebFile>> {
  const files = new Map<string, WebFile>();
  const embedded = assetDir(BUNDLE_DIR);
  if (Bun.isStandaloneExecutable) {
    for (const name of readdirSync(embedded)) files.set(name.endsWith(".html") ? "index.html" : name, webFile(name, new Uint8Array(readFileSync(path.join(embedded, name)))));
  } else {
    const result = await bundleWebApp();
    if (!result.success) throw new AggregateError(result.logs, "could not bundle the inbox (web/)");
    for (const out of result.outputs) {
      const name = path.basename(out.path);
      files.set(name.endsWith(".html") ? "index.html" : name, webFile(name, new Uint8Array(await out.arrayBuffer())));
    }
  }
  if (!files.has("index.html")) throw new Error("the inbox bundle has no index.html");
  return addAppFiles(files);
}

/** The installable app's files beside the bundle: the page's head tags, manifest, icons and service worker. */
async function addAppFiles(files: Map<string, WebFile>): Promise<Map<string, WebFile>> {
  const page = new TextDecoder().decode(files.get("index.html")!.body);
  files.set("index.html", webFile("index.html", new TextEncoder().encode(withAppHead(page))));
  const enc = (s: string) => new TextEncoder().encode(s);
  files.set("manifest.webmanifest", webFile("manifest.webmanifest", enc(JSON.stringify(MANIFEST))));
  for (const [name, file] of Object.entries(ICON_FILES)) files.set(`icons/${name}`, webFile(name, new Uint8Array(await Bun.file(file).arrayBuffer())));
  // The shell a service worker keeps for offline starts: the page, its hashed assets, the manifest and icons.
  const shell = ["/app", ...[...files.keys()].filter((n) => n !== "index.html").map((n) => (n.includes("/") || n.endsWith(".webmanifest") ? `/app/${n}` : ASSET_PREFIX + n))];
  const version = Bun.hash([...files.values()].map((f) => f.etag).join()).toString(36);
  files.set("sw.js", webFile("sw.js", enc(await serviceWorker(shell, version))));
  return files;
}

/** /app/… paths of the app's own files: file name in the map, cache policy, extra headers. */
const APP_FILES: Record<string, { file: string; cache: string; headers?: Record<string, string> }> = {
  "/app/manifest.webmanifest": { file: "manifest.webmanifest", cache: "no-cache" },
  // Served under /app/ but in charge of /app itself (the start URL): Service-Worker-Allowed widens its scope.
  "/app/sw.js": { file: "sw.js", cache: "no-cache", headers: { "service-worker-allowed": "/app" } },
  ...Object.fromEntries(Object.keys(ICON_FILES).map((n) => [`/app/icons/${n}`, { file: `icons/${n}`, cache: "public, max-age=604800" }])),
};

let loaded: Promise<Map<string, WebFile>> | null = null;
/** The inbox's files, built or read once per process (again after a change under web/ with NOD_DEV=1). */
export const webFiles = () => (loaded ??= loadFiles());

// `bun run dev` sets NOD_DEV=1: a change under web/ makes the next request bundle it again.
if (process.env.NOD_DEV === "1" && !Bun.isStandaloneExecutable)
  watch(path.dirname(WEB_ENTRY), { recursive: true }, () => (loaded = null)).unref();

/**
 * The inbox page's policy: scripts, styles and sockets only from this server
 * (the bundle has no inline script), images also from http(s) (agent avatars)
 * and data: (the favicon), no plugins, no <base>, no framing (clickjacking).
 */
export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' https: http: data:",
  "connect-src 'self' ws: wss:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const PAGE_HEADERS = {
  "content-security-policy": PAGE_CSP,
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
};

function respond(request: Request, f: WebFile, cacheControl: string, extra: Record<string, string> = {}): Response {
  const headers: Record<string, string> = { "content-type": f.type, "cache-control": cacheControl, etag: f.etag, vary: "accept-encoding", "x-content-type-options": "nosniff", ...extra };
  if (f.type.startsWith("text/html")) Object.assign(headers, PAGE_HEADERS);
  if (request.headers.get("if-none-match") === f.etag) return new Response(null, { status: 304, headers });
  if (f.gzip && /\bgzip\b/.test(request.headers.get("accept-encoding") ?? "")) {
    headers["content-encoding"] = "gzip";
    return new Response(f.gzip, { headers });
  }
  return new Response(f.body, { headers });
}

/** GET /app, /app/* (the page: client-side routes), /app/assets/* (hashed files) and the app's manifest, icons and service worker. */
export async function webRoutes() {
  await webFiles(); // bundle errors show at start, not at the first visit
  const notFound = () => new Response(JSON.stringify({ detail: "not found" }), { status: 404, headers: { "content-type": "application/json" } });
  return new Elysia({ name: "nod-web" })
    .get("/app", async ({ request }) => respond(request, (await webFiles()).get("index.html")!, "no-cache"), { detail: { hide: true } })
    .get(
      "/app/*",
      async ({ request, path: p }) => {
        const files = await webFiles();
        const own = APP_FILES[p];
        if (own) return respond(request, files.get(own.file)!, own.cache, own.headers);
        if (p.startsWith("/app/icons/")) return notFound();
        if (!p.startsWith(ASSET_PREFIX)) return respond(request, files.get("index.html")!, "no-cache");
        const f = files.get(p.slice(ASSET_PREFIX.length));
        return f ? respond(request, f, "public, max-age=31536000, immutable") : notFound();
      },
      { detail: { hide: true } },
    );
}
