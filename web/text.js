// Agent text shown in the inbox: invisible formatting characters (bidi
// overrides and isolates, zero-width spaces, BOM, soft hyphen…) can make a
// label read as something it is not ("\u202Eyned" shows as "deny"), so they
// are dropped from labels, titles and options. The zero-width joiner and
// non-joiner stay: emoji sequences and Persian/Indic words need them.
const INVISIBLE = /(?![\u200C\u200D])\p{Cf}/gu;

/** The text without invisible formatting characters. */
export const clean = (s) => String(s ?? "").replace(INVISIBLE, "");

/** The text with each invisible character spelled out ([U+202E]): for values shown as themselves (patterns). */
export const reveal = (s) =>
  String(s ?? "").replace(INVISIBLE, (c) => `[U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}]`);

/** Markdown source as plain words, for one-line previews (emphasis marks, link targets and heading hashes dropped). */
export const plain = (s) =>
  clean(s)
    .replace(/\[([^\]]*)\]\((?:[^)]*)\)/g, "$1")
    .replace(/(\*\*|__|~~|`+)/g, "")
    .replace(/(^|\s)[*_](\S[^*_]*?)[*_](?=\s|$|[.,;:!?])/g, "$1$2")
    .replace(/(^|\s)(#{1,6}|>+|[-*+]|\d+[.)])\s+/g, "$1")
    .replace(/\s+/g, " ")
    .trim();
