// The traffic list (issue 16, points 6 to 8): every retained exchange summary is held,
// but only the rows on screen (and a few around them) are in the DOM. Each row has one
// fixed height (the CSS's --list-row, measured once), so a row's place is its index times
// that height: the table's top and bottom margins stand in for the rows not drawn, and
// the scroll bar is the whole list's. The view (what passes the filter, in the chosen
// order, with a divider above each run) is rebuilt from the held summaries in one pass
// (~1 ms for 2,000) and drawn at most once per animation frame.
//
// Keyboard: the rows form a grid (role="grid" on the table); the selected row, or the
// first drawn, is the one Tab reaches; ↑/↓ (and Home/End, Page Up/Down) move the
// selection, Enter opens it (list-keys.js has "/" and Esc, which work page-wide).
import { row, itemOf } from "./rows.js";
import { matches } from "./filters.js";
import { sortable, compare } from "./list-sort.js";

// Rows drawn above and below the visible ones: no blank edge while scrolling. Few, as
// every drawn row is laid out again on each filter keystroke (bench/traffic_ui_bench.py).
const OVERSCAN = 8;

export class TrafficList {
  // wrap: the scrolling box; table: #traffic-table; waiting: the relay's waiting rows
  // (shown only at the list's end); runs: runs.js; limit: summaries held at most.
  // onlyRun(): the run the "This run" choice keeps, or null for all runs; currentRun():
  // the run whose divider ends an unfiltered list, or null while the history is still
  // arriving; onOpen(item), onFollow(following): what the page does then.
  constructor({ wrap, table, waiting, runs, limit, onlyRun, currentRun, onOpen, onFollow }) {
    Object.assign(this, { wrap, table, waiting, runs, limit, onlyRun, currentRun, onOpen, onFollow });
    this.tbody = table.tBodies[0];
    this.items = []; // every summary held, oldest first
    this.entries = []; // the view: summaries and divider rows, top to bottom
    this.shown = 0; // summaries in the view
    this.filter = null;
    this.said = undefined; // the server's answers for h:/body: tokens (byte-terms.js)
    this.order = { key: "seq", descending: false };
    this.selected = null; // the selected exchange's seq
    this.following = true; // at the bottom: new rows scroll into view
    this.rowHeight = 0;
    this.headHeight = 0;
    this.frame = 0;
    this.version = 0; // one more per rebuild
    this.drawn = ""; // which view and rows are in the DOM
    this.viewHeight = 0;
    table.setAttribute("role", "grid");
    table.setAttribute("aria-readonly", "true");
    sortable(table.tHead, this.order, () => { this.following = this.isDefaultOrder(); this.rebuild(); });
    wrap.addEventListener("scroll", () => this.scrolled(), { passive: true });
    new ResizeObserver(() => { this.rowHeight = 0; this.drawn = ""; this.later(); }).observe(wrap);
    this.tbody.addEventListener("click", (event) => {
      const tr = event.target.closest("tr");
      const item = tr && itemOf.get(tr);
      if (item) this.open(item);
    });
    this.tbody.addEventListener("keydown", (event) => this.key(event));
  }

  isDefaultOrder() {
    return this.order.key === "seq" && !this.order.descending;
  }

  // ----- what is held --------------------------------------------------------------

  add(batch) {
    if (!batch.length) return;
    this.items.push(...batch);
    if (this.items.length > this.limit) this.items.splice(0, this.items.length - this.limit);
    this.rebuild();
  }

  dropOldest(count) {
    if (count <= 0) return;
    this.items.splice(0, count);
    this.rebuild();
  }

  clear() {
    this.items = [];
    this.selected = null;
    this.rebuild();
  }

  setFilter(filter, said) {
    this.filter = filter;
    this.said = said;
    this.rebuild(true);
  }

  newestSeq() {
    return this.items.length ? this.items[this.items.length - 1].seq : 0;
  }

  // ----- the view ------------------------------------------------------------------

  // The view again from the held summaries; drawn in the next animation frame (many
  // rebuilds in one frame draw once), or at once when `now`. The run kept is asked once
  // per rebuild, not per summary (runs.js sorts its runs to answer).
  rebuild(now = false) {
    const only = this.onlyRun();
    const passing = this.items.filter((item) => (only == null || item.run === only)
                                                && matches(item, this.filter, this.said));
    this.shown = passing.length;
    if (this.isDefaultOrder()) this.entries = this.withDividers(passing);
    else this.entries = passing.sort(compare(this.order)); // dividers mean nothing out of order
    this.table.setAttribute("aria-rowcount", String(this.entries.length + 1));
    this.table.dataset.held = String(this.items.length);
    this.version++;
    if (now) this.draw();
    else this.later();
  }

  // Arrival order with a divider above each run's first row; in an unfiltered list
  // of every run, runs with no row left get theirs too (nothing vanishes unsaid), and
  // the current run's divider ends the list even before its first exchange.
  withDividers(items) {
    const entries = [];
    const complete = !this.filter && this.onlyRun() == null;
    let last = null;
    const dividers = (number) => {
      if (complete) {
        const empty = this.runs.numbers().filter((n) => (last == null || n > last) && n < number);
        for (const tr of this.runs.emptyDividers(empty)) entries.push({ tr });
      }
      entries.push({ tr: this.runs.divider(number) });
      last = number;
    };
    for (const item of items) {
      if (item.run !== last) dividers(item.run);
      entries.push(item);
    }
    const current = this.currentRun();
    if (current != null && last !== current && !this.filter) dividers(current);
    return entries;
  }

  // ----- drawing ---------------------------------------------------------------------

  later() {
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.draw(); });
  }

  scrolled() {
    const atEnd = this.wrap.scrollTop + this.wrap.clientHeight >= this.wrap.scrollHeight - 8;
    if (atEnd !== this.following) {
      this.following = atEnd && this.isDefaultOrder();
      this.onFollow(this.following);
    }
    this.later();
  }

  follow() {
    this.following = true;
    this.onFollow(true);
    this.drawn = ""; // scroll to the end even when the same rows are drawn
    this.draw();
  }

  // Sizes read once (and again after a resize): reading them on every draw would lay
  // the whole page out again each time, the most expensive part of a draw.
  measure() {
    if (this.rowHeight) return;
    const style = getComputedStyle(this.table).getPropertyValue("--list-row");
    this.rowHeight = parseFloat(style) || 28;
    this.headHeight = this.table.tHead ? this.table.tHead.offsetHeight : 0;
    this.viewHeight = this.wrap.clientHeight;
  }

  // The rows from `first` to `end` of the view into the tbody, the others as margins.
  // Nothing is done when the same rows of the same view are drawn already.
  draw() {
    this.measure();
    const height = this.rowHeight;
    const count = this.entries.length;
    const top = this.following
      ? Math.max(0, this.headHeight + count * height - this.viewHeight)
      : this.wrap.scrollTop;
    const first = Math.max(0, Math.floor((top - this.headHeight) / height) - OVERSCAN);
    const end = Math.min(count, Math.ceil((top + this.viewHeight) / height) + OVERSCAN);
    const drawn = `${this.version} ${first} ${end} ${this.selected}`;
    if (drawn === this.drawn) return;
    this.drawn = drawn;
    // The grid's one tab stop: the row with the focus (Tab may have put it on a row that
    // is not the selected one), else the selected one, else the first drawn.
    const focused = this.tbody.contains(document.activeElement) ? itemOf.get(document.activeElement) : undefined;
    const stop = focused ? focused.seq : this.selected;
    const before = new Map([...this.tbody.children].map((tr) => [itemOf.get(tr), tr]));
    const rows = [];
    let tabStop = null;
    for (let i = first; i < end; i++) {
      const tr = this.rowAt(i, before);
      tr.setAttribute("aria-rowindex", String(i + 2)); // the header row is 1
      rows.push(tr);
      if (itemOf.get(tr) && (!tabStop || itemOf.get(tr).seq === stop)) tabStop = tr;
    }
    this.place(rows);
    this.table.style.marginTop = first * height + "px";
    this.table.style.marginBottom = (count - end) * height + "px";
    if (this.waiting) this.waiting.hidden = end < count;
    if (tabStop) tabStop.tabIndex = 0;
    if (focused) this.focusRow(focused.seq);
    if (this.following) this.wrap.scrollTop = 1e9; // the end (clamped): no size read back
  }

  // The rows into the tbody, moving only what changed. A row already there stays: the
  // browser lays out only the new ones (a keystroke, a flood's batch), and a redraw that
  // changes nothing on screen (new counts) changes nothing in the page, so the focus and
  // whatever holds a row (the detail's opener) keep it.
  place(rows) {
    const keep = new Set(rows);
    for (const tr of [...this.tbody.children]) if (!keep.has(tr)) tr.remove();
    let at = this.tbody.firstElementChild;
    for (const tr of rows) {
      if (tr === at) at = at.nextElementSibling;
      else this.tbody.insertBefore(tr, at);
    }
  }

  // Entry i as a row: a divider's is kept; an exchange's is the one drawn last time
  // (`before`: summary -> row), else made (a summary never changes; its advice badge
  // fills itself in). The selection and the tab stop are set from the facts on every draw.
  rowAt(i, before) {
    const entry = this.entries[i];
    if (entry.tr) {
      if (entry.tr.classList.contains("run-divider")) this.runs.fill(entry.tr);
      return entry.tr;
    }
    const tr = before.get(entry) || row(entry);
    const chosen = entry.seq === this.selected;
    tr.classList.toggle("selected", chosen);
    tr.setAttribute("aria-selected", String(chosen));
    tr.tabIndex = -1;
    return tr;
  }

  // ----- selection and keys ----------------------------------------------------------

  indexOfSeq(seq) {
    return this.entries.findIndex((e) => !e.tr && e.seq === seq);
  }

  open(item) {
    this.choose(item.seq);
    this.onOpen(item);
  }

  // Select exchange `seq`, scroll it into view and give it the focus.
  choose(seq) {
    this.measure();
    this.selected = seq;
    const index = this.indexOfSeq(seq);
    if (index >= 0) {
      const top = this.headHeight + index * this.rowHeight;
      const wrap = this.wrap;
      if (top - this.headHeight < wrap.scrollTop) wrap.scrollTop = top - this.headHeight;
      else if (top + this.rowHeight > wrap.scrollTop + wrap.clientHeight) {
        wrap.scrollTop = top + this.rowHeight - wrap.clientHeight;
      }
      this.following = this.isDefaultOrder() && index === this.entries.length - 1;
      this.onFollow(this.following);
    }
    this.draw();
    this.focusSelected();
  }

  focusSelected() {
    this.focusRow(this.selected);
  }

  focusRow(seq) {
    const tr = this.tbody.querySelector(`tr[data-seq="${seq}"]`);
    if (!tr || document.activeElement === tr) return;
    for (const other of this.tbody.querySelectorAll("tr[tabindex='0']")) other.tabIndex = -1;
    tr.tabIndex = 0; // the grid's one tab stop is where the focus is
    tr.focus({ preventScroll: true });
  }

  // The exchange `steps` rows away from exchange `from` (dividers skipped); at the ends,
  // the first or last.
  move(from, steps) {
    const seqs = this.entries.filter((e) => !e.tr).map((e) => e.seq);
    if (!seqs.length) return;
    const at = seqs.indexOf(from);
    const start = at < 0 ? (steps > 0 ? -1 : seqs.length) : at;
    this.choose(seqs[Math.max(0, Math.min(seqs.length - 1, start + steps))]);
  }

  // Keys on a row: from the row that has the focus (Tab may have brought it there
  // without selecting it).
  key(event) {
    const tr = event.target.closest("tr");
    const here = tr && itemOf.get(tr) ? itemOf.get(tr).seq : this.selected;
    const page = Math.max(1, Math.floor(this.viewHeight / this.rowHeight) - 1);
    const steps = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page,
                    Home: -1e9, End: 1e9 }[event.key];
    if (steps !== undefined) {
      event.preventDefault();
      this.move(here, steps);
    } else if (event.key === "Enter") {
      const item = this.items.find((i) => i.seq === here);
      if (item) { event.preventDefault(); this.open(item); }
    }
  }
}
