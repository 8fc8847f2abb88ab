// The inbox's files. In a checkout they are bundled from web/ by Bun's bundler
// when the first server of the process starts; in the compiled binary they are
// the same bundle, made by scripts/build.ts and embedded as an asset. Either
// way they are held in memory, gzipped once, and served with cache headers:
// the page itself is revalidated on every load (no-cache + ETag), the hashed
// JS and CSS under /app/assets/ are cached for a year (immutable).
import { Elysia } from "elysia";
import { readdirSync, readFileSync, watch } from "node:fs";
import path from "node:path";
import { assetDir } from "./paths.ts";

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
  const compressible = /^(text\/|image\/svg)/.test(type);
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
  return files;
}

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

function respond(request: Request, f: WebFile, cacheControl: string): Response {
  const headers: Record<string, string> = { "content-type": f.type, "cache-control": cacheControl, etag: f.etag, vary: "accept-encoding", "x-content-type-options": "nosniff" };
  if (f.type.startsWith("text/html")) Object.assign(headers, PAGE_HEADERS);
  if (request.headers.get("if-none-match") === f.etag) return new Response(null, { status: 304, headers });
  if (f.gzip && /\bgzip\b/.test(request.headers.get("accept-encoding") ?? "")) {
    headers["content-encoding"] = "gzip";
    return new Response(f.gzip, { headers });
  }
  return new Response(f.body, { headers });
}

/** GET /app, /app/* (the page: client-side routes) and /app/assets/* (hashed files). */
export async function webRoutes() {
  await webFiles(); // bundle errors show at start, not at the first visit
  const notFound = () => new Response(JSON.stringify({ detail: "not found" }), { status: 404, headers: { "content-type": "application/json" } });
  return new Elysia({ name: "nod-web" })
    .get("/app", async ({ request }) => respond(request, (await webFiles()).get("index.html")!, "no-cache"), { detail: { hide: true } })
    .get(
      "/app/*",
      async ({ request, path: p }) => {
        const files = await webFiles();
        if (!p.startsWith(ASSET_PREFIX)) return respond(request, files.get("index.html")!, "no-cache");
        const f = files.get(p.slice(ASSET_PREFIX.length));
        return f ? respond(request, f, "public, max-age=31536000, immutable") : notFound();
      },
      { detail: { hide: true } },
    );
}
