// Notification text: agents write markdown, notifications show plain text.
// This drops the syntax (emphasis, code fences, links, headings, tables…)
// and keeps the words, then cuts to a length a lock screen can show.

/** Notifications show a few hundred characters; the rest is never looked at (and some patterns below are quadratic). */
const INPUT_LIMIT = 2000;

export function plainText(md: string): string {
  let s = md.slice(0, INPUT_LIMIT).replace(/\r\n?/g, "\n");
  s = s.replace(/```[^\n]*\n([\s\S]*?)(```|$)/g, "$1"); // fenced code: keep the code
  s = s.replace(/!\[([^\]]*)\]\([^)]*\)/g, "$1"); // images: their alt text
  s = s.replace(/\[([^\]]+)\]\([^)]*\)/g, "$1"); // links: their text
  s = s.replace(/<(https?:\/\/[^>\s]+)>/g, "$1");
  s = s.replace(/^[ \t]{0,3}#{1,6}[ \t]+/gm, ""); // headings
  s = s.replace(/^[ \t]{0,3}>[ \t]?/gm, ""); // quotes
  s = s.replace(/^[ \t]*([-*+]|\d+[.)])[ \t]+\[[ xX]\][ \t]+/gm, "• "); // task lists
  s = s.replace(/^[ \t]*[-*+][ \t]+/gm, "• "); // bullets
  s = s.replace(/^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*(\|[ \t]*:?-{3,}:?[ \t]*)*\|?[ \t]*(\n|$)/gm, ""); // table rules
  s = s.replace(/^[ \t]*\|(.*)\|[ \t]*$/gm, (_, row: string) => row.split("|").map((c) => c.trim()).join(" · ")); // table rows
  s = s.replace(/^[ \t]*([-*_])([ \t]*\1){2,}[ \t]*$/gm, ""); // horizontal rules
  s = s.replace(/(`+)([^`]*?)\1/g, "$2"); // inline code
  s = s.replace(/(\*\*|__)(?=\S)([\s\S]*?\S)\1/g, "$2"); // bold
  s = s.replace(/(^|[^\w*])\*(?=\S)([^*\n]*?\S)\*(?!\w)/g, "$1$2"); // italic *x*
  s = s.replace(/(^|[^\w])_(?=\S)([^_\n]*?\S)_(?!\w)/g, "$1$2"); // italic _x_ (not snake_case)
  s = s.replace(/~~(?=\S)([\s\S]*?\S)~~/g, "$1"); // strikethrough
  s = s.replace(/\\([\\`*_{}[\]()#+\-.!|~>])/g, "$1"); // escapes
  s = s.replace(/[ \t]+\n/g, "\n").replace(/\n{3,}/g, "\n\n");
  return s.trim();
}

/** At most `max` characters (whole code points), with an ellipsis when cut. */
export function clip(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : chars.slice(0, max - 1).join("").trimEnd() + "…";
}
