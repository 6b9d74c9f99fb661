// Advice on each message (docs/traffic-ui.md, "Advice"): the notes of httplint (the
// checker behind REDbot) and of the playground on a captured request and response.
// Two entry points, one per view: adviceBadge() for a row of the list (rows.js) and
// showAdvice() for the open exchange (exchange.js). Nothing is linted as traffic
// arrives: the server lints the rows the page shows, on demand, and caches the result
// (traffic/advice_api.py), so a flood costs no more than the rows drawn.
import { gettext, interpolate, L10N } from "./i18n-helpers.js";
import { el } from "./dom.js";
import { api } from "./api.js";

// Seqs per badge request: traffic/advice_api.py ADVICE_BATCH.
const BATCH = 60;
// Counts remembered by this page (oldest forgotten first): rows drawn again, after a
// scroll or a filter, show their badge at once.
const KEPT = 5000;
// Rows drawn within this many milliseconds share one request; after a slow answer (rows
// never linted before: about half a millisecond each, bench/advice_cost.py) the page
// waits three times as long, so that one viewer in a flood keeps the server's linting
// under a quarter of its time.
const GATHER_MS = 100;
let pause = GATHER_MS;

const known = new Map(); // seq -> {bad, warning, info, good}
const waiting = new Map(); // seq -> badges (spans) waiting for their counts
let asking = false;
let timer = null;

const exchangesUrl = () => document.getElementById("traffic").dataset.exchangesUrl; // traffic.html

// The list: a badge in `cell` for `item`, filled when its counts are known. Shown only
// when there is something to look at (a bad note or a warning).
export function adviceBadge(cell, item) {
  const badge = el("span", "advice-tag");
  badge.hidden = true;
  cell.append(badge);
  const counts = known.get(item.seq);
  if (counts) { fillBadge(badge, counts); return; }
  if (!waiting.has(item.seq)) waiting.set(item.seq, []);
  waiting.get(item.seq).push(badge);
  if (!timer && !asking) timer = setTimeout(askCounts, pause);
}

function fillBadge(badge, counts) {
  const worst = counts.bad ? "bad" : counts.warning ? "warning" : "none";
  badge.dataset.level = worst;
  badge.classList.add("advice-" + worst);
  const shown = counts.bad + counts.warning;
  if (!shown) return;
  badge.textContent = (counts.bad ? "✖ " : "⚠ ") + L10N.number(shown);
  const label = L10N.f(gettext("Advice, problems: %(bad)s, warnings: %(warning)s (open the row to read them)"),
                       { bad: counts.bad, warning: counts.warning });
  badge.title = label;
  badge.setAttribute("aria-label", label);
  badge.hidden = false;
}

// One request at a time, for the newest rows still on the page; rows drawn meanwhile
// wait for the next one.
async function askCounts() {
  timer = null;
  for (const [seq, badges] of waiting) {
    const alive = badges.filter((badge) => badge.isConnected);
    if (alive.length) waiting.set(seq, alive); else waiting.delete(seq);
  }
  const seqs = [...waiting.keys()].sort((a, b) => b - a).slice(0, BATCH);
  if (!seqs.length) return;
  asking = true;
  const began = performance.now();
  try {
    const data = await api("GET", exchangesUrl() + "advice/?seqs=" + seqs.join(","));
    for (const seq of seqs) {
      const counts = data.advice[String(seq)];
      if (counts) {
        known.set(seq, counts);
        for (const badge of waiting.get(seq) || []) fillBadge(badge, counts);
      }
      waiting.delete(seq); // evicted rows have no advice: never asked again
    }
    while (known.size > KEPT) known.delete(known.keys().next().value);
  } catch (err) {
    for (const seq of seqs) waiting.delete(seq); // badges stay hidden; the detail says why
  } finally {
    asking = false;
    pause = Math.max(GATHER_MS, 3 * (performance.now() - began));
    if (waiting.size && !timer) timer = setTimeout(askCounts, pause);
  }
}

const LEVEL_TEXT = () => ({
  bad: gettext("problem"), warning: gettext("warning"),
  info: gettext("information"), good: gettext("good"),
});

// The detail: every note on `item`, in the section parts/advice.html put in `panel`.
export async function showAdvice(panel, item) {
  const box = panel.querySelector("#detail-advice");
  if (!box) return;
  box.hidden = false;
  box.dataset.seq = item.seq;
  const summary = box.querySelector(".advice-summary");
  const sides = box.querySelector(".advice-sides");
  summary.textContent = gettext("checking…");
  sides.textContent = "";
  let data;
  try {
    data = await api("GET", exchangesUrl() + item.seq + "/advice/");
  } catch (err) {
    if (box.dataset.seq === String(item.seq)) {
      summary.textContent = interpolate(gettext("Could not get the advice: %s"), [err.message]);
    }
    return;
  }
  if (box.dataset.seq !== String(item.seq)) return; // another exchange was opened
  known.set(item.seq, data.counts);
  summary.textContent = L10N.f(gettext("%(library)s and the playground, problems: %(bad)s, warnings: %(warning)s, notes: %(info)s, good: %(good)s."),
    { library: data.library, bad: data.counts.bad, warning: data.counts.warning,
      info: data.counts.info, good: data.counts.good });
  const names = { request: gettext("Request"), response: gettext("Response") };
  for (const side of ["request", "response"]) {
    const part = el("div", "advice-side");
    part.dataset.side = side;
    part.append(el("h4", "", names[side]));
    if (!data[side].length) part.append(el("p", "muted", gettext("Nothing to say.")));
    const list = el("ul", "advice-notes");
    for (const note of data[side]) list.append(noteItem(note));
    part.append(list);
    sides.append(part);
  }
}

function noteItem(note) {
  const li = el("li", "advice-note level-" + note.level);
  li.dataset.note = note.id;
  const details = el("details");
  const head = el("summary");
  head.append(el("span", "advice-level", LEVEL_TEXT()[note.level] || note.level), " ",
              el("span", "advice-text", note.summary));
  details.append(head, safeFragment(note.detail));
  if (!note.translated) {
    details.append(el("p", "muted", gettext("(in English only: httplint has no translation of this note yet)")));
  }
  const more = el("p", "advice-link");
  const link = el("a", "", specName(note.link));
  link.href = note.link;
  link.target = "_blank";
  link.rel = "noopener noreferrer";
  more.append(gettext("The rule: "), link, " · ", note.category, " · ",
              note.source === "httplint" ? gettext("note by httplint") : gettext("note by the playground"));
  details.append(more);
  li.append(details);
  return li;
}

// "RFC 9112 §6.3" for a section of an RFC, else the address's host and path.
export function specName(url) {
  const rfc = /rfc(\d+)(?:\.html)?(?:#(?:section-)?(.*))?$/.exec(url);
  if (rfc) return "RFC " + rfc[1] + (rfc[2] ? (/^\d/.test(rfc[2]) ? " §" : " ") + rfc[2] : "");
  try {
    const parsed = new URL(url);
    return parsed.host + parsed.pathname;
  } catch (err) {
    return url;
  }
}

// httplint's explanation (HTML the server already cleaned to these tags with nh3,
// traffic/advice_api.py SAFE_TAGS) rebuilt node by node from an inert parse (a
// DOMParser document runs no script and loads nothing): only these tags, only http(s)
// links, no other attribute, text as text. The page never trusts HTML it did not build.
const KEEP = new Set(["P", "CODE", "A", "UL", "OL", "LI", "EM", "STRONG", "PRE", "BR", "BLOCKQUOTE"]);

export function safeFragment(html) {
  const parsed = new DOMParser().parseFromString(html, "text/html");
  const out = el("div", "advice-explanation");
  const copy = (from, to) => {
    for (const node of from.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) { to.append(node.textContent); continue; }
      if (node.nodeType !== Node.ELEMENT_NODE) continue;
      if (!KEEP.has(node.tagName)) { copy(node, to); continue; }
      const made = document.createElement(node.tagName.toLowerCase());
      if (node.tagName === "A") {
        const href = node.getAttribute("href") || "";
        if (/^https?:\/\//i.test(href)) made.href = href;
        made.target = "_blank";
        made.rel = "noopener noreferrer";
      }
      copy(node, made);
      to.append(made);
    }
  };
  copy(parsed.body, out);
  return out;
}
