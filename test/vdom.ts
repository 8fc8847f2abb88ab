// Renders a Preact element tree to an HTML-like string (no DOM needed), so
// the markdown renderer can be checked on exactly what it builds.
import { Markdown } from "../web/markdown.js";

export function tree(v: any): string {
  if (v == null || v === false || v === true) return "";
  if (typeof v === "string" || typeof v === "number") return String(v).replace(/&/g, "&amp;").replace(/</g, "&lt;");
  if (Array.isArray(v)) return v.map(tree).join("");
  if (typeof v.type === "function") return tree(v.type(v.props));
  const p = v.props || {};
  const attrs = Object.entries(p)
    .filter(([k, x]) => k !== "children" && x !== undefined)
    .map(([k, x]) => ` ${k}="${x}"`)
    .join("");
  return `<${v.type}${attrs}>${tree(p.children)}</${v.type}>`;
}

export const md = (text: string) => tree(Markdown({ text }));
