// Runs on the traffic page: each start of a sandbox begins a run (docs/api.md, "runs");
// earlier runs' exchanges stay. This module keeps what the page knows of the runs (the
// runs API once, then the websocket's `run` messages), words a run for its divider row
// in the list, and fills the export's choice of runs.
import { gettext, ngettext, L10N } from "./i18n-helpers.js";
import { el } from "./dom.js";
import { api } from "./api.js";

// traffic.html's "runs-data" block: each mode's label in the page's language.
const dataNode = document.getElementById("runs-data");
const MODE_LABELS = dataNode ? JSON.parse(dataNode.textContent).modes : {};
const clock = new Intl.DateTimeFormat(L10N.lang, {
  hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});
const at = (iso) => clock.format(new Date(iso));

// From this many runs in a row with nothing in the list, they share one divider (a
// session of tour steps is dozens of runs; retention empties the oldest).
const RANGE_FROM = 3;

// "12 requests · 3 removed to stay within the limit · 1 not recorded" (zeros left out).
function countParts(c) {
  const parts = [L10N.f(ngettext("%(count)s request", "%(count)s requests", c.served), { count: c.served })];
  if (c.removed) parts.push(L10N.f(gettext("%(count)s removed to stay within the limit"), { count: c.removed }));
  if (c.not_recorded) parts.push(L10N.f(gettext("%(count)s not recorded"), { count: c.not_recorded }));
  return parts;
}

export class Runs {
  constructor(url, columns) {
    this.url = url; // GET /api/sandboxes/<id>/runs/
    this.columns = columns; // a divider row spans the table
    this.byNumber = new Map();
    this.current = null;
    this.retention = null;
    this.all = null; // COUNTS of every run together, as the runs API last said
    this.loaded = false; // the runs API has answered once
    this.reasons = {};
  }

  async load() {
    const r = await api("GET", this.url);
    for (const run of r.runs) this.byNumber.set(run.number, run);
    this.current = r.current;
    this.retention = r.retention;
    this.all = r.all;
    this.reasons = r.reasons || {}; // each reason code's words (counts.js)
    this.loaded = true;
  }

  // A `run` message: a run started (it is now the current one) or ended.
  update(run) {
    this.byNumber.set(run.number, run);
    if (!run.ended_at) this.current = run.number;
    else if (this.current === run.number) this.current = null;
  }

  // "This run": the running one, else the latest (as the API's ?run=current and the
  // stats' counts.run mean it), or null before the first start.
  thisRun() {
    if (this.current != null) return this.current;
    const numbers = this.numbers();
    return numbers.length ? numbers[numbers.length - 1] : null;
  }

  numbers() {
    return [...this.byNumber.keys()].sort((a, b) => a - b);
  }

  // "Run 3 · Full server (default) · started 10:42:05 · ended 10:44:12: stopped", and
  // how many of its requests are in the list, removed or not recorded.
  describe(number) {
    const run = this.byNumber.get(number);
    const parts = [L10N.f(gettext("Run %(number)s"), { number })];
    if (!run) return parts[0];
    parts.push(MODE_LABELS[run.mode] || run.mode);
    parts.push(L10N.f(gettext("started %(time)s"), { time: at(run.started_at) }));
    if (run.ended_at) {
      parts.push(run.ended ? L10N.f(gettext("ended %(time)s: %(why)s"), { time: at(run.ended_at), why: run.ended })
                           : L10N.f(gettext("ended %(time)s"), { time: at(run.ended_at) }));
    }
    if (run.counts) parts.push(...countParts(run.counts));
    return parts.join(" · ");
  }

  // Several runs in a row with no exchange left in the list, on one line:
  // "Runs 1–57 · 1,234 requests · 1,234 removed to stay within the limit".
  describeRange(first, last) {
    const sum = { served: 0, removed: 0, not_recorded: 0 };
    for (let n = first; n <= last; n++) {
      const c = this.byNumber.get(n) && this.byNumber.get(n).counts;
      if (c) for (const key of Object.keys(sum)) sum[key] += c[key];
    }
    return [L10N.f(gettext("Runs %(first)s–%(last)s"), { first, last }), ...countParts(sum)].join(" · ");
  }

  // The dividers for runs `numbers` (ascending), none of whose exchanges is in the list:
  // one each, or one for the lot when there are more than RANGE_FROM.
  emptyDividers(numbers) {
    if (numbers.length < RANGE_FROM) return numbers.map((n) => this.divider(n));
    const tr = el("tr", "run-divider runs-range");
    Object.assign(tr.dataset, { first: numbers[0], last: numbers[numbers.length - 1] });
    const td = el("td");
    td.colSpan = this.columns;
    tr.append(td);
    this.fill(tr);
    return [tr];
  }

  // The divider row above a run's exchanges in the list.
  divider(number) {
    const tr = el("tr", "run-divider");
    tr.dataset.run = number;
    const td = el("td");
    td.colSpan = this.columns;
    tr.append(td);
    this.fill(tr);
    return tr;
  }

  fill(tr) {
    if (tr.dataset.first) {
      tr.firstElementChild.textContent = this.describeRange(Number(tr.dataset.first), Number(tr.dataset.last));
      return;
    }
    const number = Number(tr.dataset.run);
    const td = tr.firstElementChild;
    td.textContent = this.describe(number);
    const current = number === this.thisRun();
    tr.classList.toggle("current", current);
    if (current) td.append(" ", el("span", "run-tag", gettext("this run")));
  }

  // The stats' counts of this run: its divider follows them as requests arrive.
  counted(counts, tbody) {
    const run = this.byNumber.get(this.thisRun());
    if (!run || JSON.stringify(run.counts) === JSON.stringify(counts)) return;
    run.counts = counts;
    const tr = tbody.querySelector(`tr.run-divider[data-run="${run.number}"]`);
    if (tr) this.fill(tr);
  }

  // Whether the stats' counts say that earlier runs changed (retention removed their
  // oldest exchanges while this run grew): then their dividers need the runs API again.
  earlierChanged(counts) {
    const current = this.thisRun();
    let stored = 0;
    for (const [number, run] of this.byNumber) if (number !== current && run.counts) stored += run.counts.stored;
    return stored !== counts.all.stored - counts.run.stored;
  }

  // After a run started or ended: every divider says the new facts.
  refresh(tbody) {
    for (const tr of tbody.querySelectorAll("tr.run-divider")) this.fill(tr);
  }

  // The export's choice: this run, one chosen run, or everything retained.
  fillChoice(select) {
    const chosen = select.value;
    select.textContent = "";
    select.append(new Option(gettext("this run"), "current"), new Option(gettext("all runs"), "all"));
    for (const number of this.numbers().reverse()) {
      const run = this.byNumber.get(number);
      const text = run ? L10N.f(gettext("run %(number)s (started %(time)s)"), { number, time: at(run.started_at) })
                       : L10N.f(gettext("Run %(number)s"), { number });
      select.append(new Option(text, String(number)));
    }
    select.value = [...select.options].some((o) => o.value === chosen) ? chosen : "current";
  }
}
