// The traffic screen: a websocket to /ws/sandboxes/<id>/ (protocol in docs/api.md) that
// streams exchange summaries, counters, status and the server console. Rows are drawn
// once per animation frame and capped (data-dom-rows); raw bytes are fetched only when
// a row is opened (exchange.js), through one click listener on the table. Everything
// captured is shown with textContent.
import { gettext, ngettext, L10N, formatSize, formatMicros } from "./i18n-helpers.js";
import { $, el, message, screenReady } from "./dom.js";
import { api } from "./api.js";
import { STATUS_TEXT } from "./cards.js";
import { ExchangeView } from "./exchange.js";
import { COMPLETE, OUTCOME_TEXT } from "./outcomes.js";
import { explainer } from "./explain.js";
import { parseFilter, matches } from "./filters.js";
import { initComposer } from "./composer.js";
import { initExports } from "./export.js";

const root = $("traffic");
const initial = JSON.parse($("initial-data").textContent);
const DOM_ROWS = Number(root.dataset.domRows) || 1000;
const tbody = $("traffic-table").querySelector("tbody");
const wrap = $("table-wrap");
const detailPanel = $("detail");
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
  skipped: 0,
  runSeen: 0, // exchanges of this run received here: a floor for the total until the
  // server's next stats (it sends them once a second) brings the exact count
  stats: null,
  lastStatsAt: 0,
};

// ----- rows -----------------------------------------------------------------------------

// Local time of day with milliseconds, in the page's language. L10N keeps one
// Intl formatter: toLocaleTimeString builds one per call, which under a flood cost
// more than drawing the rows.
const timeOf = (us) => L10N.time(new Date(us / 1000));

const itemOf = new WeakMap(); // <tr> -> its exchange summary

function row(item) {
  const tr = el("tr", "outcome-" + item.outcome);
  tr.dataset.seq = item.seq;
  if (item.status >= 400) tr.classList.add("bad-status");
  if (item.index > 0) tr.classList.add("reused");
  const conn = el("td", "conn", (item.index > 0 ? "↺ " : "") + item.conn + "." + item.index);
  conn.title = item.index > 0
    ? L10N.f(gettext("request %(n)s on connection %(conn)s (keep-alive reuse)"), { n: item.index + 1, conn: item.conn })
    : L10N.f(gettext("first request on connection %(conn)s"), { conn: item.conn });
  const status = el("td", "status");
  status.append(el("span", "code", item.status == null ? "—" : String(item.status)));
  if (item.outcome !== COMPLETE) {
    const tag = el("span", "outcome-tag", OUTCOME_TEXT[item.outcome] || item.outcome);
    if (item.reason) tag.title = item.reason;
    status.append(tag);
  }
  const size = el("td", "num", formatSize(item.response_length));
  size.title = L10N.f(gettext("request %(req)s B, response %(resp)s B"),
                      { req: item.request_length, resp: item.response_length });
  tr.append(
    el("td", "seq", String(item.seq)),
    el("td", "time", timeOf(item.started_us)),
    conn,
    el("td", "method", item.method || "?"),
    el("td", "path", item.target == null ? gettext("(unparsed)") : item.target),
    status,
    size,
    el("td", "num", item.duration_us == null ? "—" : formatMicros(item.duration_us)),
  );
  itemOf.set(tr, item);
  return tr;
}

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
  for (const item of batch.slice(-DOM_ROWS)) if (matches(item, state.filter)) frag.append(row(item));
  tbody.append(frag);
  while (tbody.rows.length > DOM_ROWS) tbody.deleteRow(0);
  if (state.following) wrap.scrollTop = wrap.scrollHeight;
  showCounts();
}

function redraw() {
  tbody.textContent = "";
  const frag = document.createDocumentFragment();
  for (const item of state.items) if (matches(item, state.filter)) frag.append(row(item));
  tbody.append(frag);
  if (state.following) wrap.scrollTop = wrap.scrollHeight;
  showCounts();
}

function total() {
  return Math.max(state.stats ? state.stats.requests : 0, state.runSeen);
}

function showCounts() {
  const total_ = total();
  const shown = state.items.length;
  $("no-traffic").hidden = shown > 0 || state.incoming.length > 0;
  let text = L10N.f(ngettext("showing the latest %(shown)s of %(count)s request",
                             "showing the latest %(shown)s of %(count)s requests", total_),
                    { shown, count: total_ });
  if (state.filter) {
    text += " · " + L10N.f(ngettext("%(count)s matches the filter", "%(count)s match the filter",
                                    tbody.rows.length), { count: tbody.rows.length });
  }
  if (state.paused) {
    text += " · " + L10N.f(gettext("paused: %(count)s new arrived"), { count: state.missedWhilePaused });
  }
  $("showing").textContent = text;
  const older = $("older");
  older.textContent = "";
  if (state.skipped) {
    older.append(L10N.f(ngettext(
      "%(count)s exchange went by too fast to show (the totals still count it). ",
      "%(count)s exchanges went by too fast to show (the totals still count them). ",
      state.skipped), { count: state.skipped }));
  }
  if (state.stats && state.stats.stored > shown) {
    const link = el("a", "", gettext("the history API"));
    link.href = root.dataset.exchangesUrl + "?after=0";
    link.target = "_blank";
    // The sentence is split around the link so the link stays an element.
    const [before, after] = L10N.f(gettext("The playground keeps the latest %(count)s exchanges; older ones are in %(link)s."),
                                   { count: state.stats.stored, link: "\u0000" }).split("\u0000");
    older.append(before, link, after || "");
  }
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

$("pause").addEventListener("click", () => {
  state.paused = !state.paused;
  $("pause").textContent = state.paused ? gettext("Resume") : gettext("Pause");
  $("pause").setAttribute("aria-pressed", String(state.paused));
  state.missedWhilePaused = 0;
  if (!state.paused) schedule();
  showCounts();
});

$("clear").addEventListener("click", () => {
  // Only this view: the server, its totals and the stored history are untouched.
  state.items = [];
  state.incoming = [];
  state.missedWhilePaused = 0;
  state.skipped = 0;
  tbody.textContent = "";
  detail.close();
  showCounts();
});

// ----- counters, status, console -----------------------------------------------------

function showStats(s) {
  state.stats = s;
  state.lastStatsAt = Date.now();
  $("c-requests").textContent = L10N.number(total());
  $("c-errors").textContent = L10N.number(s.errors);
  $("c-in").textContent = formatSize(s.bytes_in);
  $("c-out").textContent = formatSize(s.bytes_out);
  $("c-conns").textContent = L10N.number(s.connections);
  if (s.rate != null) $("c-rate").textContent = L10N.number(s.rate);
  const d = s.dropped || {};
  const lost = (d.server || 0) + (d.playground || 0);
  $("dropped").hidden = !lost;
  // One literal, so makemessages and tests/playground/test_i18n.py see the whole msgid.
  const droppedText = gettext("%(lost)s events were not recorded under load (%(server)s by the server, %(playground)s by the playground): some rows are missing, but the totals above are the server's own exact counts.");
  $("dropped").textContent = lost ? L10N.f(droppedText,
    { lost, server: d.server || 0, playground: d.playground || 0 }) : "";
  showCounts();
}
// The server sends stats only while they change: a quiet second means 0 req/s.
setInterval(() => {
  if (Date.now() - state.lastStatsAt > 2500) $("c-rate").textContent = "0";
}, 1000);

const open = $("open-sandbox");
open.href = initial.url;
let deleted = false;
function showStatus(s) {
  if (s.status === "deleted") deleted = true;
  const badge = $("status-badge");
  badge.textContent = STATUS_TEXT[s.status] || s.status;
  badge.className = "badge status-" + s.status;
  let text = s.problem || "";  // worded by the server, exit code included (sandboxes/presenters.py)
  if (s.status === "stopped" && !text) text = gettext("Start it from its card to see traffic.");
  if (s.status === "deleted") {
    text = gettext("This sandbox was deleted.");
    setConnState("gone", gettext("deleted"));
    const home = el("a", "", gettext("Back to your sandboxes"));
    home.href = "/";
    $("status-text").textContent = text + " ";
    $("status-text").append(home);
    open.classList.add("disabled");
    return;
  }
  $("status-text").textContent = text;
  const running = s.status === "running";
  open.classList.toggle("disabled", !running);
  open.setAttribute("aria-disabled", String(!running));
}

const consoleBox = $("console");
const CONSOLE_LINES = 500;
function addConsole(lines, skipped, tail) {
  const atBottom = consoleBox.scrollTop + consoleBox.clientHeight >= consoleBox.scrollHeight - 8;
  if (tail) consoleBox.textContent = "";
  const frag = document.createDocumentFragment();
  if (skipped) {
    frag.append(el("span", "muted", "… " + L10N.f(ngettext("%(count)s line skipped", "%(count)s lines skipped",
                                                              skipped), { count: skipped }) + " …\n"));
  }
  for (const line of lines) frag.append(el("span", line.stream, line.text + "\n"));
  consoleBox.append(frag);
  while (consoleBox.childNodes.length > CONSOLE_LINES) consoleBox.firstChild.remove();
  if (atBottom || tail) consoleBox.scrollTop = consoleBox.scrollHeight;
}

// ----- the websocket, with reconnect + resume ---------------------------------------

function setConnState(name, text) {
  const el = $("conn-state");
  el.dataset.state = name;
  el.textContent = text;
}

const handlers = {
  exchanges(msg) {
    if (msg.skipped) state.skipped += msg.skipped;
    for (const item of msg.items) {
      if (item.seq <= state.lastSeq) continue; // never twice, even across reconnects
      state.lastSeq = item.seq;
      state.runSeen++;
      state.incoming.push(item);
      if (state.paused) state.missedWhilePaused++;
    }
    if (state.incoming.length > DOM_ROWS) state.incoming.splice(0, state.incoming.length - DOM_ROWS);
    if (state.stats) $("c-requests").textContent = L10N.number(total());
    if (state.paused) showCounts();
    else schedule();
  },
  stats: showStats,
  status: showStatus,
  console(msg) { addConsole(msg.lines, msg.skipped, msg.tail); },
  reset(msg) {
    // The sandbox started again: a new run, a new history (seq numbers go on).
    state.lastSeq = Math.max(state.lastSeq, msg.last_seq || 0);
    state.items = [];
    state.incoming = [];
    state.skipped = 0;
    state.runSeen = 0;
    state.stats = null;
    for (const id of ["c-requests", "c-errors", "c-conns", "c-rate"]) $(id).textContent = "0";
    tbody.textContent = "";
    showCounts();
  },
};

let socket = null;
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

showStatus(initial);
showCounts();
connect();

// parts/composer.html and the export links, when the page has them.
if ($("composer")) initComposer($("composer"), detailPanel);
if ($("export-links")) initExports($("export-links"), $("filter"), detailPanel, root.dataset.exchangesUrl);

screenReady();
