// The traffic filter grammar, defined once for the page (here) and the server
// (playground/traffic/filters.py, its docstring lists every token), both tested against
// one table of cases, tests/data/filters.json. Tokens are separated by spaces and every
// one must hold; "-TOKEN" holds when TOKEN does not. method:GET,HEAD status:404,4xx
// larger-than:10k run:3 check:4.2 re:PATTERN h:NAME=TEXT body:TEXT, else a word of the path.
// h: and body: need the recorded bytes, which summaries lack: the page asks the server
// which stored exchanges pass them (byte-terms.js) and passes its answers in as `said`.

import { isOutcome } from "./outcomes.js";
import { gettext, L10N } from "./i18n-helpers.js";

const RUNS = /^\d+(,\d+)*$/;
const CHECKS = /^\d+(\.\d+)?(,\d+(\.\d+)?)*$/;
const FOREIGN_GROUP = /\(\?(?![:=!])/; // (?P<n>…), (?<n>…): the dialects differ there
export const MAX_PATTERN = 200;
export const BYTE_KEYS = ["h", "body"];

function parseSize(text) {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)b?$/i.exec(text);
  if (!m) return null;
  return Number(m[1]) * { "": 1, k: 1024, m: 1048576, g: 1073741824 }[m[2].toLowerCase()];
}

// A regular expression, or an Error whose message says why not (shown by the box).
function compile(pattern) {
  const why = (text, extra) => new Error(L10N.f(text, { pattern, count: MAX_PATTERN, ...extra }));
  if (pattern.length > MAX_PATTERN) return why(gettext("re: a pattern is at most %(count)s characters"));
  if (FOREIGN_GROUP.test(pattern)) {
    return why(gettext("re:%(pattern)s: only (?:…), (?=…) and (?!…) groups are understood"));
  }
  try { return new RegExp(pattern, "i"); } catch (err) {
    return why(gettext("re:%(pattern)s: not a regular expression (%(error)s)"), { error: err.message });
  }
}

// One token as {key, value, text, negated}; `text` is the token without its "-".
export function term(token) {
  const negated = token.length > 1 && token.startsWith("-");
  const text = negated ? token.slice(1) : token;
  const colon = text.indexOf(":");
  const key = colon < 0 ? text : text.slice(0, colon);
  const value = colon < 0 ? "" : text.slice(colon + 1);
  const t = (k, v) => ({ key: k, value: v, text, negated });
  if (key === "method" && value) return t("method", value.toUpperCase().split(","));
  if (key === "status" && value) return t("status", value.toLowerCase().split(","));
  if (key === "larger-than" && parseSize(value) !== null) return t("larger", parseSize(value));
  if (key === "run" && RUNS.test(value)) return t("run", value.split(",").map(Number));
  if (key === "check" && CHECKS.test(value)) return t("check", value.split(","));
  if (key === "re" && value) return t("re", compile(value));
  if (key === "h" && value && !value.startsWith("=")) {
    const eq = value.indexOf("=");
    return t("h", eq < 0 ? [value.toLowerCase(), null] : [value.slice(0, eq).toLowerCase(), value.slice(eq + 1).toLowerCase()]);
  }
  if (key === "body" && value) return t("body", value.toLowerCase());
  return t("word", text.toLowerCase());
}

// The filter box's text as {terms, error, byteTerms}, or null when it filters nothing.
// `error` (a bad regular expression) is a sentence for the learner; such a filter passes
// nothing, as the server's refuses it.
export function parseFilter(text) {
  const terms = text.trim().split(/\s+/).filter(Boolean).map(term);
  if (!terms.length) return null;
  const bad = terms.find((t) => t.key === "re" && t.value instanceof Error);
  const byteTerms = [...new Set(terms.filter((t) => BYTE_KEYS.includes(t.key)).map((t) => t.text))];
  return { terms, error: bad ? bad.value.message : null, byteTerms };
}

function statusMatches(item, pattern) {
  if (isOutcome(pattern)) return item.outcome === pattern;
  const text = item.status == null ? "" : String(item.status);
  if (/^\dxx$/.test(pattern)) return text[0] === pattern[0];
  return text === pattern;
}

// Whether one (not negated) term holds; undefined when the server has not said yet.
function holds(item, t, said) {
  switch (t.key) {
    case "method": return t.value.includes((item.method || "").toUpperCase());
    case "status": return t.value.some((p) => statusMatches(item, p));
    case "larger": return item.response_length > t.value;
    case "run": return t.value.includes(item.run);
    // A check's label ("4.2"), or its stage ("4"): the exchanges "Check my server" sent.
    case "check": return t.value.some((c) => (item.check || "") === c || (item.check || "").startsWith(c + "."));
    case "re": return t.value.test(item.target || "");
    case "h": case "body": return said ? said(t.text, item.seq) : undefined;
    default: return (item.target || "").toLowerCase().includes(t.value);
  }
}

// Whether an exchange summary passes filter `f` (null passes everything). `said(text,
// seq)` is the server's answer for a byte term: true, false, or undefined while unknown
// (such an item does not pass until it is known).
export function matches(item, f, said) {
  if (!f) return true;
  if (f.error) return false;
  for (const t of f.terms) {
    const ok = holds(item, t, said);
    if (ok === undefined || ok === t.negated) return false;
  }
  return true;
}
