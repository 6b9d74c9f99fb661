// The traffic page: a websocket to /ws/sandboxes/<id>/ (protocol in docs/api.md) that
// streams exchange summaries, counters, status and the server console. Rows are drawn
// once per animation frame and capped (data-dom-rows); raw bytes are fetched only when
// a row is opened (exchange.js). Everything captured is shown with textContent.
"use strict";

(function () {
  const root = document.getElementById("traffic");
  const initial = JSON.parse(document.getElementById("initial-data").textContent);
  const DOM_ROWS = Number(root.dataset.domRows) || 1000;
  const $ = PG.$;
  const tbody = $("traffic-table").querySelector("tbody");
  const wrap = $("table-wrap");
  const detail = new PG.ExchangeView($("detail"), root.dataset.exchangesUrl);

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

  // ----- filters: method:GET status:404 status:4xx larger-than:10k, free text on path -----
  // playground/filters.py is the same grammar on the server (HAR and raw exports): change both.

  function parseSize(text) {
    const m = /^(\d+(?:\.\d+)?)([kmg]?)b?$/i.exec(text);
    if (!m) return null;
    return Number(m[1]) * { "": 1, k: 1024, m: 1048576, g: 1073741824 }[m[2].toLowerCase()];
  }

  function parseFilter(text) {
    const f = { methods: [], statuses: [], larger: null, words: [] };
    for (const token of text.trim().split(/\s+/).filter(Boolean)) {
      const [key, ...rest] = token.split(":");
      const value = rest.join(":");
      if (key === "method" && value) f.methods.push(...value.toUpperCase().split(","));
      else if (key === "status" && value) f.statuses.push(...value.toLowerCase().split(","));
      else if (key === "larger-than" && parseSize(value) !== null) f.larger = parseSize(value);
      else f.words.push(token.toLowerCase());
    }
    return f.methods.length || f.statuses.length || f.larger !== null || f.words.length ? f : null;
  }

  function statusMatches(item, pattern) {
    if (/^(complete|rejected|timed_out|client_closed|no_response)$/.test(pattern)) {
      return item.outcome === pattern;
    }
    const text = item.status == null ? "" : String(item.status);
    if (/^\dxx$/.test(pattern)) return text[0] === pattern[0];
    return text === pattern;
  }

  function matches(item, f) {
    if (!f) return true;
    if (f.methods.length && !f.methods.includes((item.method || "").toUpperCase())) return false;
    if (f.statuses.length && !f.statuses.some((p) => statusMatches(item, p))) return false;
    if (f.larger !== null && !(item.response_length > f.larger)) return false;
    const path = (item.target || "").toLowerCase();
    return f.words.every((w) => path.includes(w));
  }

  // ----- rows -----------------------------------------------------------------------------

  // Local time of day with milliseconds, in the page's language. L10N keeps one
  // Intl formatter: toLocaleTimeString builds one per call, which under a flood cost
  // more than drawing the rows.
  const timeOf = (us) => L10N.time(new Date(us / 1000));

  function row(item) {
    const tr = PG.el("tr", "outcome-" + item.outcome);
    tr.dataset.seq = item.seq;
    if (item.status >= 400) tr.classList.add("bad-status");
    if (item.index > 0) tr.classList.add("reused");
    const conn = PG.el("td", "conn", (item.index > 0 ? "↺ " : "") + item.conn + "." + item.index);
    conn.title = item.index > 0
      ? L10N.f(gettext("request %(n)s on connection %(conn)s (keep-alive reuse)"), { n: item.index + 1, conn: item.conn })
      : L10N.f(gettext("first request on connection %(conn)s"), { conn: item.conn });
    const status = PG.el("td", "status");
    status.append(PG.el("span", "code", item.status == null ? "—" : String(item.status)));
    if (item.outcome !== "complete") {
      const tag = PG.el("span", "outcome-tag", PG.OUTCOME_TEXT[item.outcome] || item.outcome);
      if (item.reason) tag.title = item.reason;
      status.append(tag);
    }
    const size = PG.el("td", "num", PG.bytes(item.response_length));
    size.title = L10N.f(gettext("request %(req)s B, response %(resp)s B"),
                        { req: item.request_length, resp: item.response_length });
    tr.append(
      PG.el("td", "seq", String(item.seq)),
      PG.el("td", "time", timeOf(item.started_us)),
      conn,
      PG.el("td", "method", item.method || "?"),
      PG.el("td", "path", item.target == null ? gettext("(unparsed)") : item.target),
      status,
      size,
      PG.el("td", "num", item.duration_us == null ? "—" : PG.micros(item.duration_us)),
    );
    tr.addEventListener("click", () => {
      for (const old of tbody.querySelectorAll("tr.selected")) old.classList.remove("selected");
      tr.classList.add("selected");
      detail.show(item);
    });
    return tr;
  }

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
      const link = PG.el("a", "", gettext("the history API"));
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
    $("c-in").textContent = PG.bytes(s.bytes_in);
    $("c-out").textContent = PG.bytes(s.bytes_out);
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
    badge.textContent = PG.STATUS_TEXT[s.status] || s.status;
    badge.className = "badge status-" + s.status;
    let text = s.problem || "";  // worded by the server, exit code included (consumers.py)
    if (s.status === "stopped" && !text) text = gettext("Start it from its card to see traffic.");
    if (s.status === "deleted") {
      text = gettext("This sandbox was deleted.");
      setConnState("gone", gettext("deleted"));
      const home = PG.el("a", "", gettext("Back to your sandboxes"));
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
      frag.append(PG.el("span", "muted", "… " + L10N.f(ngettext("%(count)s line skipped", "%(count)s lines skipped",
                                                                skipped), { count: skipped }) + " …\n"));
    }
    for (const line of lines) frag.append(PG.el("span", line.stream, line.text + "\n"));
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
      await PG.api("GET", root.dataset.sandboxUrl);
    } catch (err) {
      if (err.status === 404) {
        setConnState("gone", gettext("this sandbox no longer exists"));
        PG.message(gettext("This sandbox no longer exists."), "error");
        return;
      }
    }
    connect();
  }

  showStatus(initial);
  showCounts();
  connect();
})();
