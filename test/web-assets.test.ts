// The inbox's assets: /app loads its script and stylesheet, every /app/* path
// gets the same page, and the JavaScript stays small (under 100 KB gzipped).
import { describe, expect, test } from "bun:test";
import path from "node:path";
import { startTestServer } from "./helpers.ts";
import { bundleWebApp } from "../server/web.ts";

const WEB = path.resolve(import.meta.dir, "..", "web");

describe("web assets", async () => {
  const server = await startTestServer();

  test("/app is HTML that loads its JS and CSS", async () => {
    const res = await fetch(server.url + "/app");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    const page = await res.text();
    expect(page).toContain('<div id="root">');
    const scripts = [...page.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((m) => m[1]!);
    expect(scripts.length).toBeGreaterThan(0);
    for (const src of scripts) {
      const js = await fetch(new URL(src, server.url + "/app"));
      expect(js.status).toBe(200);
      expect(js.headers.get("content-type")).toMatch(/javascript/);
      expect((await js.text()).length).toBeGreaterThan(1000);
    }
    const css = [...page.matchAll(/<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"/g)].map((m) => m[1]!);
    for (const href of css) expect((await fetch(new URL(href, server.url + "/app"))).status).toBe(200);
  });

  test("the page is revalidated, the hashed assets cached for a year and sent gzipped", async () => {
    const res = await fetch(server.url + "/app");
    expect(res.headers.get("cache-control")).toBe("no-cache");
    const etag = res.headers.get("etag")!;
    expect(etag).toBeTruthy();
    expect((await fetch(server.url + "/app", { headers: { "if-none-match": etag } })).status).toBe(304);
    const src = /<script[^>]*\ssrc="([^"]+)"/.exec(await res.text())![1]!;
    expect(src).toMatch(/^\/app\/assets\/[\w-]+\.js$/);
    const js = await fetch(server.url + src, { headers: { "accept-encoding": "gzip" }, decompress: false } as RequestInit);
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(js.headers.get("content-encoding")).toBe("gzip");
    const gz = new Uint8Array(await js.arrayBuffer());
    expect(gz.length).toBeLessThan(100 * 1024);
    expect(new TextDecoder().decode(Bun.gunzipSync(gz)).length).toBeGreaterThan(gz.length);
    expect((await fetch(server.url + "/app/assets/missing-123.js")).status).toBe(404);
  });

  test("client-side routes under /app/ get the same page", async () => {
    for (const p of ["/app/", "/app/agents/agt_0000000000000000", "/app/requests", "/app/tasks/tsk_x"]) {
      const res = await fetch(server.url + p);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('<div id="root">');
    }
  });

  test("the JavaScript of the first load is under 100 KB gzipped", async () => {
    const out = await bundleWebApp(); // the bundle nod serves and the binary embeds
    expect(out.success).toBe(true);
    let js = 0;
    let css = 0;
    for (const o of out.outputs) {
      const bytes = new Uint8Array(await o.arrayBuffer());
      const gz = Bun.gzipSync(bytes).length;
      if (o.path.endsWith(".js")) js += gz;
      if (o.path.endsWith(".css")) css += gz;
    }
    console.log(`inbox bundle: ${(js / 1024).toFixed(1)} KB JS + ${(css / 1024).toFixed(1)} KB CSS gzipped`);
    expect(js).toBeGreaterThan(5_000);
    expect(js).toBeLessThan(100 * 1024);
  });

  test("no agent text ever goes through innerHTML (the markdown renderer builds elements)", async () => {
    const glob = new Bun.Glob("**/*.js");
    for await (const f of glob.scan(WEB)) {
      const src = await Bun.file(path.join(WEB, f)).text();
      expect({ f, raw: /innerHTML|dangerouslySetInnerHTML|insertAdjacentHTML|outerHTML|document\.write/.test(src) }).toEqual({ f, raw: false });
    }
  });
});

// The markdown renderer, checked on its element tree (no DOM needed).
import { md } from "./vdom.ts";

describe("markdown", () => {
  test("HTML in the text stays text", () => {
    const out = md(`<img src=x onerror=alert(1)> <script>alert(1)</script> <a href="javascript:x">y</a>`);
    expect(out).not.toContain("<img");
    expect(out).not.toContain("<script");
    expect(out).toContain("&lt;img src=x onerror=alert(1)>");
  });
  test("links: only http(s), with rel=noopener", () => {
    expect(md("[ok](https://example.com/a)")).toContain('<a href="https://example.com/a" target="_blank" rel="noopener noreferrer nofollow">ok</a>');
    for (const bad of ["javascript:alert(1)", "data:text/html,x", "vbscript:x", "//evil.com", "JaVaScRiPt:alert(1)"]) expect(md(`[x](${bad})`)).not.toContain("<a ");
    expect(md("see https://nod.example/x_y.")).toContain('<a href="https://nod.example/x_y"');
  });
  test("headings, emphasis, code, lists, quotes", () => {
    expect(md("# Title")).toBe('<div class="md"><h3>Title</h3></div>');
    expect(md("**b** *i* `c<d>` ~~s~~")).toBe('<div class="md"><p><strong>b</strong> <em>i</em> <code>c&lt;d></code> <del>s</del></p></div>');
    expect(md("```\n<b>x</b>\n```")).toBe('<div class="md"><pre><code>&lt;b>x&lt;/b></code></pre></div>');
    expect(md("- a\n- b\n  - c")).toBe('<div class="md"><ul><li>a</li><li><p>b</p><ul><li>c</li></ul></li></ul></div>');
    expect(md("3. x\n4. y")).toBe('<div class="md"><ol start="3"><li>x</li><li>y</li></ol></div>');
    expect(md("> q")).toBe('<div class="md"><blockquote><p>q</p></blockquote></div>');
    expect(md("| a | b |\n|:--|--:|\n| **x** | 2 |\nafter")).toBe(
      '<div class="md"><div class="table-wrap"><table><thead><tr><th style="text-align:undefined">a</th><th style="text-align:right">b</th></tr></thead><tbody><tr><td><strong>x</strong></td><td style="text-align:right">2</td></tr></tbody></table></div><p>after</p></div>'.replace(' style="text-align:undefined"', ""),
    );
    expect(md("snake_case_name and 2*3*4")).toBe('<div class="md"><p>snake_case_name and 2<em>3</em>4</p></div>');
  });
});
