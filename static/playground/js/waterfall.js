// The waterfall on the traffic page (parts/waterfall.html, issue 16 point 2): the
// exchanges of a run (or of all runs) on the server's clock, one lane per connection,
// each exchange a bar with its phases (waterfall-lanes.js does the arithmetic). A run's
// end is a line across the lanes, and after it the lanes are hatched: nothing listened
// any more, so the browser's next requests (a "once" run's CSS and image) were refused
// before any server could record them. Drag across the lanes (or use the buttons) to
// zoom; a bar is a button that opens its exchange in the detail panel.
//
// It reads the exchanges API itself (docs/api.md) when shown, then every POLL_MS while
// it stays shown, so it costs nothing while hidden. The runs are the page's own
// (runs.js: the runs API, then the websocket's `run` messages): never asked again here.
import { gettext, ngettext, L10N, formatMicros } from "./i18n-helpers.js";
import { $, el, message } from "./dom.js";
import { api } from "./api.js";
import { exchangeLine } from "./outcomes.js";
import { layout, facts, domain, phases, isoMicros } from "./waterfall-lanes.js";

const POLL_MS = 2000;
// Bars drawn at most: the retention's default window; each is a few DOM nodes.
const MAX_BARS = 2000;
const PAGE = 200; // the exchanges API's page size
const MIN_VIEW_US = 20; // zoomed in no further than 20 µs across
const TICKS = 6;

// section: #waterfall; detail: the ExchangeView (exchange.js) a bar opens in;
// exchangesUrl: the traffic API's exchanges; runs: the page's Runs (runs.js).
export function initWaterfall(section, detail, exchangesUrl, runs) {
  const chart = $("wf-chart");
  const choice = $("wf-run");
  const state = { items: [], lastSeq: 0, run: null, runs: [], lanes: [], whole: null, view: null,
                  shown: false, selected: null, capped: false, ends: null, listed: null };

  // The page's runs, oldest first; the choice is made again only when a run was added
  // (made again under an open list, it would close it).
  async function loadRuns() {
    if (!runs.loaded) await runs.load(); // shown before the page's first answer
    state.runs = runs.numbers().map((number) => runs.byNumber.get(number));
    const listed = runs.numbers().join();
    if (listed === state.listed) return;
    state.listed = listed;
    const keep = choice.value || "latest";
    choice.textContent = "";
    choice.append(new Option(gettext("the latest run"), "latest"));
    for (const run of [...state.runs].reverse()) {
      choice.append(new Option(L10N.f(gettext("run %(number)s"), { number: run.number }), String(run.number)));
    }
    choice.append(new Option(gettext("all runs"), "all"));
    choice.value = [...choice.options].some((o) => o.value === keep) ? keep : "latest";
  }

  // The run number the choice means now ("latest" follows a restart), or "all".
  function wantedRun() {
    if (choice.value !== "latest") return choice.value;
    const last = state.runs[state.runs.length - 1];
    return last ? String(last.number) : "all";
  }

  // Every exchange after state.lastSeq of the chosen run, page by page, up to MAX_BARS.
  async function loadExchanges() {
    for (;;) {
      if (state.items.length >= MAX_BARS) { state.capped = true; return; }
      const page = await api("GET", `${exchangesUrl}?run=${state.run}&after=${state.lastSeq}&limit=${PAGE}`);
      state.items.push(...page.exchanges.slice(0, MAX_BARS - state.items.length));
      state.lastSeq = page.next_after;
      if (!page.more) return;
    }
  }

  async function refresh(reset) {
    await loadRuns();
    const run = wantedRun();
    if (reset || run !== state.run) {
      Object.assign(state, { items: [], lastSeq: 0, run, view: null, capped: false });
    }
    const before = state.items.length;
    await loadExchanges();
    // A run that ended meanwhile changes the range (its end, the refused time after it).
    const ends = shownRuns().map((r) => r.ended_at).join();
    if (reset || state.items.length !== before || ends !== state.ends) draw();
    state.ends = ends;
  }

  // One refresh at a time (a poll and a click must not both append the same page); a
  // reset asked for meanwhile runs once the current one ends.
  let busy = false;
  let resetAfter = false;
  async function update(reset) {
    if (busy) { resetAfter = resetAfter || reset; return; }
    busy = true;
    try { await refresh(reset); } finally { busy = false; }
    if (resetAfter) { resetAfter = false; await update(true); }
  }

  function shownRuns() {
    return state.run === "all" ? state.runs : state.runs.filter((r) => String(r.number) === state.run);
  }

  function draw() {
    state.lanes = layout(state.items);
    const ends = shownRuns().map((r) => isoMicros(r.ended_at)).filter((t) => t != null);
    const whole = domain(state.lanes, ends);
    // A view that showed everything keeps doing so as exchanges arrive.
    const wasWhole = !state.view || !state.whole
      || (state.view.from === state.whole.from && state.view.to === state.whole.to);
    state.whole = whole;
    if (whole && wasWhole) state.view = { ...whole };
    chart.textContent = "";
    showFacts();
    if (!whole) {
      chart.append(el("p", "empty", gettext("No exchanges in this run yet.")));
      return;
    }
    const axis = el("div", "wf-axis");
    // The server's clock at the range's start; the ticks count from there.
    const start = el("span", "wf-lane-label wf-start", L10N.time(new Date(whole.from / 1000)));
    start.title = gettext("the server's clock when the first connection was accepted");
    axis.append(start, el("div", "wf-ticks"));
    const rows = el("div", "wf-rows");
    for (const lane of state.lanes) rows.append(laneRow(lane));
    rows.append(el("div", "wf-overlay"));
    chart.append(axis, rows);
    position();
  }

  function laneRow(lane) {
    const row = el("div", "wf-lane");
    row.dataset.lane = lane.key;
    row.dataset.bars = String(lane.bars.length);
    row.style.setProperty("--tracks", String(lane.tracks));
    const label = state.run === "all"
      ? L10N.f(gettext("run %(run)s, conn %(conn)s"), { run: lane.run, conn: lane.conn })
      : L10N.f(gettext("conn %(conn)s"), { conn: lane.conn });
    const reused = lane.bars.length > 1 ? " ↺" + L10N.number(lane.bars.length) : "";
    row.append(el("span", "wf-lane-label", label + reused));
    const track = el("div", "wf-track");
    const line = el("span", "wf-conn-line");
    line.dataset.from = String(lane.opened);
    line.dataset.to = String(lane.closed);
    track.append(line);
    for (const bar of lane.bars) track.append(barButton(bar));
    row.append(track);
    return row;
  }

  function barButton(bar) {
    const { item } = bar;
    const b = el("button", "wf-bar outcome-" + item.outcome);
    b.type = "button";
    b.dataset.seq = String(item.seq);
    b.dataset.from = String(bar.start);
    b.dataset.to = String(bar.end);
    b.style.setProperty("--track", String(bar.track));
    for (const flag of ["reused", "pipelined", "unanswered"]) if (bar[flag]) b.classList.add(flag);
    const span = Math.max(bar.end - bar.start, 1);
    const parts = [];
    for (const phase of phases(item)) {
      const piece = el("span", "wf-phase phase-" + phase.name);
      piece.style.left = ((phase.from - bar.start) / span) * 100 + "%";
      piece.style.width = ((phase.to - phase.from) / span) * 100 + "%";
      b.append(piece);
      parts.push(PHASE_WORDS()[phase.name] + " " + formatMicros(phase.to - phase.from));
    }
    const how = [L10N.f(gettext("connection %(conn)s, request %(n)s on it"), { conn: item.conn, n: item.index + 1 })];
    if (bar.pipelined) how.push(gettext("pipelined: it arrived before the previous answer was sent"));
    b.title = [exchangeLine(item), how.join(", "), parts.join(" · ")].filter(Boolean).join("\n");
    b.setAttribute("aria-label", b.title.replace(/\n/g, " · "));
    if (state.selected === item.seq) b.classList.add("selected");
    return b;
  }

  // Places everything for the current view: bars, lines, ticks, run markers.
  function position() {
    const { from, to } = state.view;
    const pct = (t) => ((t - from) / (to - from)) * 100;
    chart.dataset.from = String(Math.round(from));
    chart.dataset.to = String(Math.round(to));
    for (const node of chart.querySelectorAll(".wf-bar, .wf-conn-line")) {
      const start = Number(node.dataset.from);
      const end = Number(node.dataset.to);
      node.hidden = end < from || start > to;
      node.style.left = pct(start) + "%";
      node.style.width = Math.max(pct(end) - pct(start), 0) + "%";
    }
    const ticks = chart.querySelector(".wf-ticks");
    ticks.textContent = "";
    for (let k = 0; k < TICKS; k++) {
      const t = from + ((to - from) * k) / TICKS;
      const tick = el("span", "wf-tick", "+" + formatMicros(Math.round(t - state.whole.from)));
      tick.style.left = (k * 100) / TICKS + "%";
      ticks.append(tick);
    }
    drawMarkers();
  }

  // Each shown run's start and end across the lanes; after an end, the hatched time
  // when nothing listened (to the next run's start, or the edge).
  function drawMarkers() {
    const overlay = chart.querySelector(".wf-overlay");
    if (!overlay || !state.view) return;
    const { from, to } = state.view;
    const pct = (t) => Math.min(Math.max(((t - from) / (to - from)) * 100, 0), 100);
    overlay.querySelectorAll(".wf-marker, .wf-down").forEach((n) => n.remove());
    for (const run of shownRuns()) {
      const ended = isoMicros(run.ended_at);
      if (ended == null || ended > to) continue;
      const next = state.runs.find((r) => r.number > run.number);
      const back = next ? isoMicros(next.started_at) : null;
      const down = el("div", "wf-down");
      down.dataset.run = String(run.number);
      down.style.left = pct(ended) + "%";
      down.style.width = pct(back ?? to) - pct(ended) + "%";
      down.title = gettext("The server was not running: the browser's requests were refused, so no server could record them.");
      const mark = el("div", "wf-marker run-end");
      mark.style.left = pct(ended) + "%";
      mark.append(el("span", "wf-marker-text", L10N.f(gettext("run %(number)s ended: %(why)s"),
                                                        { number: run.number, why: run.ended })));
      overlay.append(down, mark);
    }
  }

  function showFacts() {
    const f = facts(state.lanes);
    const parts = [L10N.f(ngettext("%(count)s connection", "%(count)s connections", f.connections), { count: f.connections })];
    if (f.connections) parts.push(L10N.f(gettext("at most %(count)s open at once"), { count: f.parallel }));
    parts.push(L10N.f(ngettext("%(count)s request reused a connection (keep-alive)",
                               "%(count)s requests reused a connection (keep-alive)", f.reused), { count: f.reused }));
    parts.push(L10N.f(ngettext("%(count)s pipelined", "%(count)s pipelined", f.pipelined), { count: f.pipelined }));
    if (f.unanswered) parts.push(L10N.f(ngettext("%(count)s unanswered", "%(count)s unanswered", f.unanswered), { count: f.unanswered }));
    if (state.capped) parts.push(L10N.f(gettext("showing the first %(count)s"), { count: MAX_BARS }));
    // A run that ended long after its last exchange: its end is said, not drawn.
    for (const run of shownRuns()) {
      const ended = isoMicros(run.ended_at);
      if (ended != null && state.whole && ended > state.whole.to) {
        parts.push(L10N.f(gettext("run %(number)s ended: %(why)s"), { number: run.number, why: run.ended }));
      }
    }
    const line = $("wf-facts");
    line.textContent = parts.join(" · ");
    Object.assign(line.dataset, { connections: f.connections, parallel: f.parallel, reused: f.reused,
                                  pipelined: f.pipelined, unanswered: f.unanswered });
  }

  function zoomTo(from, to) {
    if (!state.whole) return;
    const width = Math.max(to - from, MIN_VIEW_US);
    const middle = (from + to) / 2;
    let start = Math.max(middle - width / 2, state.whole.from);
    const end = Math.min(start + width, state.whole.to);
    start = Math.max(end - width, state.whole.from);
    state.view = { from: start, to: end };
    position();
  }
  const zoomBy = (factor) => {
    const { from, to } = state.view || {};
    if (from != null) zoomTo((from + to) / 2 - ((to - from) * factor) / 2, (from + to) / 2 + ((to - from) * factor) / 2);
  };
  const pan = (share) => {
    const { from, to } = state.view || {};
    if (from != null) zoomTo(from + (to - from) * share, to + (to - from) * share);
  };
  $("wf-zoom-in").addEventListener("click", () => zoomBy(0.5));
  $("wf-zoom-out").addEventListener("click", () => zoomBy(2));
  $("wf-earlier").addEventListener("click", () => pan(-0.5));
  $("wf-later").addEventListener("click", () => pan(0.5));
  $("wf-whole").addEventListener("click", () => { if (state.whole) { state.view = { ...state.whole }; position(); } });
  $("wf-refresh").addEventListener("click", () => update(true).catch(failed));
  choice.addEventListener("change", () => update(true).catch(failed));

  // Drag across the lanes: zoom to that range. A press that hardly moves is a click.
  let drag = null;
  let dragged = false;
  const timeAt = (x) => {
    const box = chart.querySelector(".wf-overlay").getBoundingClientRect();
    const share = Math.min(Math.max((x - box.left) / box.width, 0), 1);
    return state.view.from + share * (state.view.to - state.view.from);
  };
  chart.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || !chart.querySelector(".wf-overlay")) return;
    drag = { x: event.clientX, band: el("div", "wf-band") };
    dragged = false;
  });
  chart.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const overlay = chart.querySelector(".wf-overlay");
    if (Math.abs(event.clientX - drag.x) > 4 && !drag.band.isConnected) overlay.append(drag.band);
    const box = overlay.getBoundingClientRect();
    const [a, b] = [drag.x, event.clientX].sort((p, q) => p - q);
    drag.band.style.left = Math.max(a - box.left, 0) + "px";
    drag.band.style.width = Math.min(b, box.right) - Math.max(a, box.left) + "px";
  });
  window.addEventListener("pointerup", (event) => {
    if (!drag) return;
    const { x, band } = drag;
    drag = null;
    band.remove();
    if (Math.abs(event.clientX - x) <= 4) return;
    dragged = true;
    const [a, b] = [timeAt(x), timeAt(event.clientX)].sort((p, q) => p - q);
    zoomTo(a, b);
  });
  chart.addEventListener("click", (event) => {
    const bar = event.target.closest(".wf-bar");
    if (dragged) { dragged = false; return; } // the end of a drag, not a click
    if (!bar) return;
    const item = state.items.find((i) => String(i.seq) === bar.dataset.seq);
    if (!item) return;
    state.selected = item.seq;
    chart.querySelectorAll(".wf-bar.selected").forEach((n) => n.classList.remove("selected"));
    bar.classList.add("selected");
    detail.show(item);
  });

  function failed(err) {
    message(L10N.f(gettext("Could not load the waterfall: %(error)s"), { error: err.message }), "error");
  }

  // Shown: load now and keep up while shown; hidden: nothing runs.
  $("wf-toggle").addEventListener("click", () => {
    state.shown = !state.shown;
    $("wf-body").hidden = !state.shown;
    $("wf-toggle").setAttribute("aria-expanded", String(state.shown));
    $("wf-toggle").textContent = state.shown ? gettext("Hide the waterfall") : gettext("Show the waterfall");
    if (state.shown) update(state.run == null).catch(failed);
  });
  setInterval(() => {
    if (state.shown && !document.hidden && !drag) update(false).catch(() => {}); // the next tick retries
  }, POLL_MS);
}

// The phases' names in the current language (a function: gettext after the catalog).
const PHASE_WORDS = () => ({
  receive: gettext("request arriving"), server: gettext("server working"), send: gettext("response leaving"),
});
