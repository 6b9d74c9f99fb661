// The traffic page's one sentence that adds up (issue 11): from a COUNTS object of the
// server (docs/api.md, "runs"), where always served == stored + removed + not_recorded.
// One sentence for this run, one for all runs, and, when something was not recorded,
// why, per reason. Each sentence is one msgid, so a translation can order it freely.
import { gettext, ngettext, L10N, formatSize } from "./i18n-helpers.js";
import { $, el, button } from "./dom.js";

// "2,000 exchanges or 50 MB": one retention bound, both of its limits.
function boundText(bound) {
  return L10N.f(gettext("%(count)s exchanges or %(size)s"),
                { count: bound.exchanges, size: formatSize(bound.bytes) });
}

// The retention limit per sandbox (`retention`: the runs API's, docs/api.md).
export function limitText(retention) {
  return retention ? boundText(retention) : "";
}

// The limit across all of the owner's sandboxes. Rows are removed when either bound is
// reached and the counts do not say which, so the sentence names both.
export function ownerLimitText(retention) {
  return retention && retention.owner ? boundText(retention.owner) : "";
}

function values(counts, retention) {
  return {
    served: counts.served, stored: counts.stored, removed: counts.removed,
    lost: counts.not_recorded, limit: limitText(retention),
    owner_limit: ownerLimitText(retention),
  };
}

// The sentence for this run's counts.
export function runSentence(counts, retention) {
  return L10N.f(ngettext(
    "%(served)s request served in this run: %(stored)s stored, %(removed)s older ones removed to stay within the limits (%(limit)s per sandbox, %(owner_limit)s for all your sandboxes), %(lost)s not recorded.",
    "%(served)s requests served in this run: %(stored)s stored, %(removed)s older ones removed to stay within the limits (%(limit)s per sandbox, %(owner_limit)s for all your sandboxes), %(lost)s not recorded.",
    counts.served), values(counts, retention));
}

// The sentence for every run's counts together.
export function allSentence(counts, retention) {
  return L10N.f(ngettext(
    "%(served)s request served in all runs: %(stored)s stored, %(removed)s older ones removed to stay within the limits (%(limit)s per sandbox, %(owner_limit)s for all your sandboxes), %(lost)s not recorded.",
    "%(served)s requests served in all runs: %(stored)s stored, %(removed)s older ones removed to stay within the limits (%(limit)s per sandbox, %(owner_limit)s for all your sandboxes), %(lost)s not recorded.",
    counts.served), values(counts, retention));
}

// Why the not recorded ones were not: "" when none were. `reasons`: each reason code's
// words (the runs API's `reasons`, from traffic/runs.py REASONS: the one source, each a
// clause for "N because <reason>", translated by the server); an unknown code is shown
// as it is.
export function reasonsSentence(counts, reasons = {}) {
  if (!counts.not_recorded) return "";
  const parts = Object.entries(counts.not_recorded_reasons || {})
    .filter(([, n]) => n > 0)
    .map(([code, n]) => L10N.f(gettext("%(count)s because %(reason)s"),
                               { count: n, reason: reasons[code] || code }));
  if (!parts.length) return "";
  return L10N.f(gettext("Not recorded: %(reasons)s."), { reasons: parts.join(gettext("; ")) });
}

// The traffic page's #counts: this run's sentence, and all runs' when they differ.
export function showSentences(counts, retention, reasons) {
  const box = $("counts");
  box.hidden = !counts;
  if (!counts) return;
  $("counts-run").textContent = [runSentence(counts.run, retention), reasonsSentence(counts.run, reasons)]
    .filter(Boolean).join(" ");
  const same = JSON.stringify(counts.all) === JSON.stringify(counts.run);
  $("counts-all").hidden = same;
  $("counts-all").textContent = same ? ""
    : [allSentence(counts.all, retention), reasonsSentence(counts.all, reasons)].filter(Boolean).join(" ");
}

// The note under the list when it does not hold every stored exchange: `skipped` ones
// were not sent to this view (a flood's batches push their newest rows only), or the
// list is `capped` at its newest `shown` rows. Either way the exports and the history
// API (`historyUrl`) have them all.
export function showOlder(older, skipped, capped, shown, historyUrl) {
  older.textContent = "";
  if (skipped) {
    older.append(L10N.f(ngettext(
      "%(count)s stored exchange was not drawn here because it arrived in a flood. ",
      "%(count)s stored exchanges were not drawn here because they arrived in a flood. ",
      skipped), { count: skipped }));
    older.append(button(gettext("Show them"), "btn small", { action: "show-all" }), " ");
  }
  if (!skipped && !capped) return;
  const link = el("a", "", gettext("the history API"));
  link.href = historyUrl;
  link.target = "_blank";
  // The sentence is split around the link so the link stays an element.
  const [before, after] = L10N.f(gettext("The list shows the newest %(shown)s exchanges; every stored one is in the exports and in %(link)s."),
                                 { shown, link: "\u0000" }).split("\u0000");
  older.append(before, link, after || "");
}
