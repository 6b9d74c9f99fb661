// The traffic screen: a websocket to /ws/sandboxes/<id>/ (protocol in docs/api.md) that
// streams exchange summaries, counters, status and the server console. The list holds
// the whole retained history (data-dom-rows summaries) and draws only the rows on screen
// (list-view.js); raw bytes are fetched only when a row is opened (exchange.js). Everything
// captured is shown with textContent. Each start of the sandbox begins a run (runs.js):
// the list keeps every run's exchanges under a divider row per run, and the counts say
// in one sentence how the requests served add up (counts.js).
import { gettext, ngettext, L10N, formatSize } from "./i18n-helpers.js";
import { $, message, screenReady } from "./dom.js";
import { api } from "./api.js";
import { showStatus, setConnState } from "./traffic-status.js";
import { ExchangeView } from "./exchange.js";
import { TrafficList } from "./list-view.js";
import { listKeys } from "./list-keys.js";
import { ByteTerms } from "./byte-terms.js";
import { explainer } from "./explain.js";
import { parseFilter } from "./filters.js";
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
const LIST_ROWS = Number(root.dataset.domRows) || 2000; // the retained history, held whole
const tbody = $("traffic-table").querySelector("tbody");
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
  incoming: [], // received, not yet drawn
  paused: false,
  missedWhilePaused: 0,
  scope: "all", // the quick choice: "all" runs or only the "current" one
  notPushed: 0, // stored exchanges a flood's batches did not push here: in the history
  stats: null,
  lastStatsAt: 0,
};

// ----- rows: the virtual list (list-view.js), its filter and keys -------------------------

const list = new TrafficList({
  wrap: $("table-wrap"), table: $("traffic-table"), waiting: $("waiting-rows"), runs, limit: LIST_ROWS,
  onlyRun: () => (state.scope === "all" ? null : runs.thisRun()),
  // Not before the history replay is in the list (the first stats follow it): the
  // current run's divider would land above the earlier runs' rows.
  currentRun: () => (state.stats && !state.incoming.length ? runs.thisRun() : null),
  onOpen: (item) => detail.show(item),
  onFollow: (following) => { $("follow").hidden = following; },
});
const byteTerms = new ByteTerms(root.dataset.exchangesUrl, () => redraw());
listKeys({ filter: $("filter"), detail, panel: detailPanel, list });

// At most one redraw per MIN_DRAW_MS: a single request still shows at once, while a
// flood's 20 batches a second are drawn ~7 times a second.
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
  list.add(batch.slice(-LIST_ROWS));
  if (!batch.length) list.rebuild(); // the current run's divider, once the history is in
  byteTerms.arrived(list.newestSeq());
  showCounts();
}
function redraw() {
  list.rebuild();
  showCounts();
}

function showCounts() {
  $("no-traffic").hidden = list.items.length > 0 || state.incoming.length > 0;
  const parts = [];
  const f = list.filter;
  if (f && f.error) parts.push(L10N.f(gettext("This filter cannot be used: %(why)s"), { why: f.error }));
  else if (byteTerms.error) parts.push(byteTerms.error);
  else if (f || state.scope !== "all") {
    parts.push(L10N.f(ngettext("%(count)s matches the filter", "%(count)s match the filter", list.shown), { count: list.shown }));
    if (byteTerms.waiting()) parts.push(gettext("asking the server about headers and bodies…"));
  }
  if (state.paused) {
    parts.push(L10N.f(gettext("paused: %(count)s new arrived"), { count: state.missedWhilePaused }));
  }
  $("showing").textContent = parts.join(" · ");
  $("filter").setAttribute("aria-invalid", String(Boolean(f && f.error)));
  showSentences(state.stats && state.stats.counts, runs.retention, runs.reasons);
  const all = state.stats && state.stats.counts && state.stats.counts.all;
  const held = list.items.length;
  const capped = Boolean(all && all.stored > held && held >= LIST_ROWS);
  showOlder($("older"), state.notPushed, capped, held, root.dataset.exchangesUrl + "?run=all&after=0");
}

$("follow").addEventListener("click", () => list.follow());

// The filter is applied FILTER_WAIT_MS after the last keystroke (typing "status:404"
// filters once, not ten times); the work is measured as "list:filter" (Performance API,
// bench/traffic_ui_bench.py).
const FILTER_WAIT_MS = 120;
let filterTimer = 0;
$("filter").addEventListener("input", (e) => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => {
    const start = performance.now();
    const f = parseFilter(e.target.value);
    byteTerms.want(f && !f.error ? f.byteTerms : []);
    list.setFilter(f, byteTerms.said);
    showCounts();
    performance.measure("list:filter", { start });
  }, FILTER_WAIT_MS);
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
  state.incoming = [];
  state.missedWhilePaused = 0;
  state.notPushed = 0;
  list.clear();
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
  const extra = Math.min(list.items.length + state.incoming.length - stored, list.items.length);
  if (extra > 0) list.dropOldest(extra);
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
  redraw(); // the current run's divider, and the counts
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
    if (state.incoming.length > LIST_ROWS) state.incoming.splice(0, state.incoming.length - LIST_ROWS);
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

// A run started, ended or was read again: every divider says the new facts (a run the
// list has not seen may need its divider above rows already drawn).
function runsChanged() {
  runs.fillChoice($("export-run"));
  redraw();
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
initTimeline(detail, root, initial, runs); // the waterfall, and "Pick for comparison" in the detail
screenReady();
