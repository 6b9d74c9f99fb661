// The traffic filter grammar: method:GET status:404 status:4xx larger-than:10k run:3
// check:4.2 (or check:4, any check of stage 4), and free text matched against the path. playground/traffic/filters.py is the same grammar on
// the server (HAR and raw exports): change both, and tests/data/filters.json, the one
// table of cases that both are tested against.

import { isOutcome } from "./outcomes.js";

function parseSize(text) {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)b?$/i.exec(text);
  if (!m) return null;
  return Number(m[1]) * { "": 1, k: 1024, m: 1048576, g: 1073741824 }[m[2].toLowerCase()];
}

// The filter box's text as a filter, or null when it filters nothing.
export function parseFilter(text) {
  const f = { methods: [], statuses: [], larger: null, words: [], runs: [], checks: [] };
  for (const token of text.trim().split(/\s+/).filter(Boolean)) {
    const [key, ...rest] = token.split(":");
    const value = rest.join(":");
    if (key === "method" && value) f.methods.push(...value.toUpperCase().split(","));
    else if (key === "status" && value) f.statuses.push(...value.toLowerCase().split(","));
    else if (key === "larger-than" && parseSize(value) !== null) f.larger = parseSize(value);
    else if (key === "run" && /^\d+(,\d+)*$/.test(value)) f.runs.push(...value.split(",").map(Number));
    else if (key === "check" && /^\d+(\.\d+)?(,\d+(\.\d+)?)*$/.test(value)) f.checks.push(...value.split(","));
    else f.words.push(token.toLowerCase());
  }
  return f.methods.length || f.statuses.length || f.larger !== null || f.words.length || f.runs.length
    || f.checks.length ? f : null;
}

function statusMatches(item, pattern) {
  if (isOutcome(pattern)) {
    return item.outcome === pattern;
  }
  const text = item.status == null ? "" : String(item.status);
  if (/^\dxx$/.test(pattern)) return text[0] === pattern[0];
  return text === pattern;
}

// Whether an exchange summary passes filter `f` (null passes everything).
export function matches(item, f) {
  if (!f) return true;
  if (f.methods.length && !f.methods.includes((item.method || "").toUpperCase())) return false;
  if (f.statuses.length && !f.statuses.some((p) => statusMatches(item, p))) return false;
  if (f.larger !== null && !(item.response_length > f.larger)) return false;
  if (f.runs.length && !f.runs.includes(item.run)) return false;
  // A check's label ("4.2"), or its stage ("4"): the exchanges "Check my server" sent.
  const label = item.check || "";
  if (f.checks.length && !f.checks.some((c) => label === c || label.startsWith(c + "."))) return false;
  const path = (item.target || "").toLowerCase();
  return f.words.every((w) => path.includes(w));
}
