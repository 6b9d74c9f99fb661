// The traffic screen: a websocket to /ws/sandboxes/<id>/ (protocol in docs/api.md) that
// streams exchange summaries, counters, status and the server console. Rows are drawn
// once per animation frame and capped (data-dom-rows); raw bytes are fetched only when
// a row is opened (exchange.js), through one click listener on the table. Everything
// captured is shown with textContent. Each start begins a run (runs.js): the list keeps
// every run's rows under its divider; counts.js says how the requests served add up.
import { gettext, ngettext, L10N, formatSize } from "./i18n-helpers.js";
import { $, message, screenReady } from "./dom.js";
import { api } from "./api.js";
import { showStatus, setConnState } from "./traffic-status.js";
import { ExchangeView } from "./exchange.js";
import { row, itemOf } from "./rows.js";
import { explainer } from "./explain.js";
import { parseFilter, matches } from "./filters.js";
import { initComposer } from "./composer.js";
import { initExports } from "./export.js";
import { Runs } from "./runs.js";
import { showSentences, showOlder } from "./counts.js";
import { addConsole } from "./server-console.js";
import { Waiting, Streams } from "./traffic-relay.js";
import { openLinked } from "./deeplink.js";
import "./panes.js"; // the layout: view tabs, list and detail side by side or as a dialog
import { initTimeline } from "./timeline.js";

const root = $("traffic");
const initial = JSON.parse($("initial-data").textContent);
const DOM_ROWS = Number(root.dataset.domRows) || 1000;
const tbody = $("traffic-table").querySelector("tbody");
const wrap = $("table-wrap");
const detailPanel = $("detail");
const runsData = JSON.parse($("runs-data").textContent);
const runs = new Runs(root.dataset.runsUrl, $("traffic-table").querySelectorAll("thead th").length);
runs.retention = runsData.retention; // until the runs API answers
runs.reasons = runsData.reasons;
const waiting = new Waiting($("waiting-rows")); // the capture relay's unanswered requests
const streams = new Streams($("streams"), root.dataset.streamsUrl); // its bytes outside exchanges
const explain = explainer(detailPanel.dataset.glossaryUrl);
const detail = new ExchangeView(detailPanel, root.dataset.exchangesUrl, explain);
explain.load();

const state = {
  lastSeq: 0, // the highest seq received: sent as ?after= on reconnect
  items: [], // the newest DOM_ROWS summaries in the view (not only the filtered ones)
  incoming: [], // received, not yet drawn
  paused: false,
  missedWhilePaused: 0,
  following: true,
  filter: null,
  scope: "all", // the quick choice: "all" runs or only the "current" one
  lastRun: null, // the run of the list's last row: a new run's first row gets a divider
  notPushed: 0, // stored exchanges a flood's batches did not push here: in the history
  stats: null,
  lastStatsAt: 0,
};

// One listener for every row: the row's summary opens in the detail panel.
tbody.addEventListener("click", (event) => {
  const tr = event.target.closest("tr");
  const item = tr && itemOf.get(tr);
  if (!item) return;
  for (const old of tbody.querySelectorAll("tr.selected")) old.classList.remove("selected");
  tr.classList.add("selected");
  detail.show(item);
});

// At most one redraw per MIN_DRAW_MS: a single request still shows at once, while a
// flood's 20 batches a second are drawn ~7 times a second. Each draw lays out the
// 1,000-row table again; drawing every batch dropped the page to ~17 frames a second
// under a 10,000 req/s flood (bench/flood.py --browser).
const MIN_DRAW_MS = 150;
let frame = 0;
let timer = 0;
let lastDraw = 0;
function schedule() {
  if (frame || timer) return;
  const wait = lastDraw + MIN_DRAW_MS - performance.now();
  if (wait > 0) {
    timer = setTimeout(() => { timer = 0; frame = requestAnimationFrame(draw); }, wait);
  } else frame = requestAnimationFrame(draw);
}

function draw() {
  frame = 0;
  lastDraw = performance.now();
  if (state.paused) return;
  const batch = state.incoming;
  state.incoming = [];
  state.items.push(...batch);
  if (state.items.length > DOM_ROWS) state.items.splice(0, state.items.length - DOM_ROWS);
  const frag = document.createDocumentFragment();
  for (const item of batch.slice(-DOM_ROWS)) if (visible(item)) addRow(frag, item);
  tbody.append(frag);
  if (tbody.rows.length > DOM_ROWS) trim();
  currentDivider();
  if (state.following) wrap.scrollTop = wrap.scrollHeight;
  showCounts();
}
function redraw() {
  tbody.textContent = "";
  state.lastRun = null;
  const frag = document.createDocumentFragment();
  for (const item of state.items) if (visible(item)) addRow(frag, item);
  tbody.append(frag);
  currentDivider();
  if (state.following) wrap.scrollTop = wrap.scrollHeight;
  showCounts();
}

function visible(item) {
  return (state.scope === "all" || item.run === runs.thisRun()) && matches(item, state.filter);
}

// A row, under its run's divider when it is the first row of that run in the list.
function addRow(parent, item) {
  if (item.run !== state.lastRun) {
    emptyRuns(parent, item.run);
    parent.append(runs.divider(item.run));
    state.lastRun = item.run;
  }
  parent.append(row(item));
}

// Runs before `number` with no exchange left in the list (all removed by retention, or
// none served) still get their divider, which says so: nothing vanishes unsaid.
function emptyRuns(parent, number) {
  if (state.scope !== "all" || state.filter) return;
  const empty = runs.numbers().filter((n) => (state.lastRun == null || n > state.lastRun) && n < number);
  parent.append(...runs.emptyDividers(empty));
}

// The current run's divider at the end of an unfiltered list even before its first
// exchange, so a restart shows at once where the new run begins.
function currentDivider() {
  const current = runs.thisRun();
  // Not before the history replay is in the list (the first stats follow it): the
  // divider would land above the earlier runs' rows.
  if (!state.stats || state.incoming.length) return;
  if (current == null || state.lastRun === current || state.filter) return;
  emptyRuns(tbody, current);
  tbody.append(runs.divider(current));
  state.lastRun = current;
}

// Keeps the newest DOM_ROWS rows; the first one left still gets its run's divider.
function trim() {
  while (tbody.rows.length > DOM_ROWS) tbody.deleteRow(0);
  while (tbody.rows.length > 1 && tbody.rows[0].classList.contains("run-divider")
         && tbody.rows[1].classList.contains("run-divider")) tbody.deleteRow(0);
  const first = itemOf.get(tbody.rows[0]);
  if (first) tbody.prepend(runs.divider(first.run));
}

const dividers = tbody.getElementsByClassName("run-divider"); // live: cheap to count

function showCounts() {
  const shown = tbody.rows.length - dividers.length;
  $("no-traffic").hidden = state.items.length > 0 || state.incoming.length > 0;
  const parts = [];
  if (state.filter || state.scope !== "all") {
    parts.push(L10N.f(ngettext("%(count)s matches the filter", "%(count)s match the filter", shown), { count: shown }));
  }
  if (state.paused) {
    parts.push(L10N.f(gettext("paused: %(count)s new arrived"), { count: state.missedWhilePaused }));
  }
  $("showing").textContent = parts.join(" · ");
  showSentences(state.stats && state.stats.counts, runs.retention, runs.reasons);
  const all = state.stats && state.stats.counts && state.stats.counts.all;
  const capped = Boolean(all && all.stored > state.items.length && state.items.length >= DOM_ROWS);
  showOlder($("older"), state.notPushed, capped, state.items.length,
            root.dataset.exchangesUrl + "?run=all&after=0");
}

wrap.addEventListener("scroll", () => {
  state.following = wrap.scrollTop + wrap.clientHeight >= wrap.scrollHeight - 8;
  $("follow").hidden = state.following;
});
$("follow").addEventListener("click", () => {
  state.following = true;
  wrap.scrollTop = wrap.scrollHeight;
  $("follow").hidden = true;
});

$("filter").addEventListener("input", (e) => {
  state.filter = parseFilter(e.target.value);
  redraw();
});

// The quick choice next to the filter: this run only, or every run.
$("run-scope").addEventListener("click", (event) => {
  const choice = event.target.closest("button[data-scope]");
  if (!choice) return;
  state.scope = choice.dataset.scope;
  for (const b of $("run-scope").querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === choice));
  redraw();
});

$("pause").addEventListener("click", () => {
  state.paused = !state.paused;
  $("pause").textContent = state.paused ? gettext("Resume") : gettext("Pause");
  $("pause").setAttribute("aria-pressed", String(state.paused));
  state.missedWhilePaused = 0;
  if (!state.paused) { schedule(); fillWhenQuiet(); }
  showCounts();
});

function clearView() {
  // Only this view: the server, its totals and the stored history are untouched.
  state.items = [];
  state.incoming = [];
  state.missedWhilePaused = 0;
  state.notPushed = 0;
  state.lastRun = null;
  tbody.textContent = "";
  detail.close();
  showCounts();
}
$("clear").addEventListener("click", clearView);

// "Show them" under the list: exchanges a flood did not push here are in the history,
// so the list is read again from it (a new websocket replays every stored exchange).
function showAllStored() {
  clearTimeout(fillTimer);
  clearView();
  state.lastSeq = 0;
  state.stats = null;
  reopen = true;
  if (socket) socket.close();
}
$("older").addEventListener("click", (event) => {
  if (event.target.closest("button[data-action=show-all]")) showAllStored();
});
// Once a flood has been quiet for a moment, the same happens by itself: the list ends up
// holding the newest stored exchanges, not the sample the flood's batches pushed.
const FILL_AFTER_QUIET_MS = 1000;
let fillTimer = null;
function fillWhenQuiet() {
  clearTimeout(fillTimer);
  if (state.notPushed && !state.paused) fillTimer = setTimeout(showAllStored, FILL_AFTER_QUIET_MS);
}

// ----- counters, status, console -----------------------------------------------------

// Retention removed the oldest exchanges from the history: they leave the list too, so
// it shows what is stored (the sentences and the dividers say how many were removed).
// The stats follow the batch they count, so the newest `stored` rows received are the
// stored ones.
function forgetRemoved(stored) {
  const extra = Math.min(state.items.length + state.incoming.length - stored, state.items.length);
  if (extra <= 0) return;
  state.items.splice(0, extra);
  redraw();
}

function showStats(s) {
  state.stats = s;
  state.lastStatsAt = Date.now();
  // This run's requests, the same number as the sentence's "served in this run".
  $("c-requests").textContent = L10N.number(s.counts ? s.counts.run.served : s.requests);
  $("c-errors").textContent = L10N.number(s.errors);
  $("c-in").textContent = formatSize(s.bytes_in);
  $("c-out").textContent = formatSize(s.bytes_out);
  $("c-conns").textContent = L10N.number(s.connections);
  if (s.rate != null) $("c-rate").textContent = L10N.number(s.rate);
  if (s.counts) {
    runs.counted(s.counts.run, tbody);
    if (runs.earlierChanged(s.counts)) loadRuns();
    forgetRemoved(s.counts.all.stored);
  }
  currentDivider();
  showCounts();
}
// The server sends stats only while they change: a quiet second means 0 req/s.
setInterval(() => {
  if (Date.now() - state.lastStatsAt > 2500) $("c-rate").textContent = "0";
}, 1000);

// ----- the websocket, with reconnect + resume ---------------------------------------

const handlers = {
  exchanges(msg) {
    // `skipped` seqs are not stored (removed by retention or never recorded): the counts'
    // sentences say how many and why, so they are not "missed" here. `not_pushed` rows
    // are stored but were not sent to this page (a flood's batch sends its newest).
    if (msg.not_pushed) state.notPushed += msg.not_pushed;
    waiting.answered(msg.items);
    for (const item of msg.items) {
      if (item.seq <= state.lastSeq) continue; // never twice, even across reconnects
      state.lastSeq = item.seq;
      state.incoming.push(item);
      if (state.paused) state.missedWhilePaused++;
    }
    if (state.incoming.length > DOM_ROWS) state.incoming.splice(0, state.incoming.length - DOM_ROWS);
    if (state.paused) showCounts();
    else schedule();
    fillWhenQuiet();
  },
  stats: showStats,
  status(msg) { if (showStatus(msg)) deleted = true; },
  console(msg) { addConsole(msg.lines, msg.skipped, msg.tail); }, streams() { streams.load(); },
  waiting(msg) { waiting.add(msg.items, msg.replace); }, answered(msg) { waiting.answered(msg.items); },
  run(msg) {
    // A run started or ended: the earlier runs' rows stay; the dividers and the export's
    // choice say what is new, and this run's counts start from the run's own. A start
    // also closes the run before it (a restart sends no separate end): the runs API,
    // read again, has every run's final facts.
    const isNew = runs.loaded && !runs.byNumber.has(msg.run.number);
    waiting.clear(); // its server is gone or new: nothing it was asked is owed any more
    runs.update(msg.run);
    if (msg.run.number === runs.thisRun() && state.stats && state.stats.counts) {
      state.stats.counts.run = msg.run.counts;
    }
    runsChanged();
    if (isNew) loadRuns();
  },
};

let knownRuns = "";
function runsChanged() {
  runs.fillChoice($("export-run"));
  // A run the list has not seen may need its divider above rows already drawn.
  const numbers = runs.numbers().join();
  if (numbers !== knownRuns || state.scope !== "all") {
    knownRuns = numbers;
    if (state.stats && !state.incoming.length) redraw();
  }
  runs.refresh(tbody);
  currentDivider();
  showCounts();
}

// One request at a time: asked again meanwhile, it runs once more when the first ends.
let loading = null;
let again = false;
function loadRuns() {
  if (loading) { again = true; return; }
  loading = runs.load().then(runsChanged).catch((err) => message(
    L10N.f(gettext("Could not load the runs: %(error)s"), { error: err.message }), "error"))
    .finally(() => {
      loading = null;
      if (again) { again = false; loadRuns(); }
    });
}

let socket = null;
let deleted = false; // the sandbox is gone: stop reconnecting
let reopen = false; // closed on purpose, to replay the history at once
let delay = 500;
function connect() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const url = scheme + location.host + root.dataset.socketPath + "?after=" + state.lastSeq;
  socket = new WebSocket(url);
  socket.addEventListener("open", () => {
    delay = 500;
    setConnState("live", "● " + gettext("live"));
  });
  socket.addEventListener("message", (event) => {
    let msg;
    try { msg = JSON.parse(event.data); } catch (err) { return; }
    const handler = handlers[msg.type];
    if (handler) handler(msg);
  });
  socket.addEventListener("close", (event) => {
    socket = null;
    if (deleted) return;
    if (reopen) { reopen = false; connect(); return; }
    if (event.code === 1006 && delay > 8000 && !navigator.onLine) setConnState("offline", gettext("offline"));
    setConnState("reconnecting", L10N.f(gettext("reconnecting… (%(s)s s)"), { s: Math.round(delay / 1000) }));
    setTimeout(retry, delay);
    delay = Math.min(delay * 2, 10000);
  });
}

async function retry() {
  // A refused handshake looks like any other close: ask the API whether the sandbox
  // still exists (404: deleted or not ours), so the page never retries forever.
  try {
    await api("GET", root.dataset.sandboxUrl);
  } catch (err) {
    if (err.status === 404) {
      setConnState("gone", gettext("this sandbox no longer exists"));
      message(gettext("This sandbox no longer exists."), "error");
      return;
    }
  }
  connect();
}

$("open-sandbox").href = initial.url;
deleted = showStatus(initial);
showCounts();
connect();
loadRuns();
openLinked(detail, root.dataset.exchangesUrl, tbody); // ?exchange=SEQ&mark=…: a check's byte
// parts/composer.html and the export links, when the page has them.
if ($("composer")) initComposer($("composer"), detailPanel);
if ($("export-links")) initExports($("export-links"), $("filter"), $("export-run"), detailPanel, root.dataset.exchangesUrl);
initTimeline(detail, root, initial); // the waterfall, and "Pick for comparison" in the detail
screenReady();
