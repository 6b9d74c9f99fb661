// "Check my server" on the sandbox page (templates/playground/parts/checks.html): start
// a run of the stage checks, watch each check finish, stop it, and read a failure: its
// message, expected against received (CR and LF visible), the hint with its glossary
// entry and RFC section, and "Show the byte", the traffic page opened on the exchange
// with a caret on the byte (deeplink.js). The API and the run's JSON: docs/api.md,
// "Check my server"; progress arrives as "checks" messages on the page's websocket
// (live.js). What the stages check: docs/checks.md.
// Everything the learner's server sent is shown with textContent only.
import { gettext, L10N, formatMicros } from "./i18n-helpers.js";
import { el, message } from "./dom.js";
import { api } from "./api.js";
import { renderText, fromBase64, latin1Bytes } from "./bytes.js";

const STAGE_STATE = {
  pending: gettext("waiting"), running: gettext("running…"), passed: gettext("passed"),
  failed: gettext("failed"), skipped: gettext("not run"),
};
const RUN_STATE = {
  passed: gettext("every stage checked passed"), failed: gettext("some checks failed"),
  stopped: gettext("stopped before the end"),
  interrupted: gettext("interrupted: the playground process running it ended"),
};
const MAX_STAGE = 12;

// initChecks(panel, card, live, glossaryPage) -> {update(sandbox)}: card is the page's
// sandbox card (cards.js), live its websocket.
export function initChecks(panel, card, live, glossaryPage) {
  const runButton = panel.querySelector("#checks-run");
  const stopButton = panel.querySelector("#checks-stop");
  const through = panel.querySelector("#checks-through");
  const state = panel.querySelector("#checks-state");
  const reachedBox = panel.querySelector("#checks-reached");
  const list = panel.querySelector("#checks-stages");
  let sandbox = card.sandbox;
  let stages = []; // the stage list (number, title, summary, rfc), without results
  let run = null; // the newest run's JSON, or null before the first
  let best = 0;
  let stopping = false;
  let starting = false;
  const opened = new Map(); // stage number -> open or closed by the learner

  const url = () => sandbox.links && sandbox.links.checks;
  const running = () => Boolean(run && run.state === "running");

  async function load() {
    if (!url()) return;
    try {
      const data = await api("GET", url());
      stages = data.stages || [];
      best = data.best || 0;
      fillThrough();
      // A message that arrived meanwhile may be newer than this answer: keep the newest.
      const newest = (data.runs || [])[0] || null;
      if (newest && (!run || newer(newest, run))) run = newest;
      draw();
    } catch (err) {
      state.textContent = L10N.f(gettext("Could not load the checks: %(error)s"), { error: err.message });
    }
  }

  function fillThrough() {
    if (through.options.length) return;
    const count = stages.length || MAX_STAGE;
    for (let n = 1; n <= count; n++) {
      const option = el("option", "", String(n));
      option.value = String(n);
      through.append(option);
    }
    through.value = String(count);
  }

  async function start() {
    starting = true;
    draw();
    try {
      show(await api("POST", url(), { through: Number(through.value) }));
    } catch (err) {
      message(L10N.f(gettext("Could not start the checks: %(error)s"), { error: err.message }), "error");
    } finally {
      starting = false;
      draw();
    }
  }

  async function stop() {
    if (!run || !run.links) return;
    stopping = true;
    draw();
    try {
      await api("POST", run.links.stop, {});
    } catch (err) {
      stopping = false;
      message(L10N.f(gettext("Could not stop the checks: %(error)s"), { error: err.message }), "error");
      draw();
    }
  }

  // A run's JSON (from the API or a "checks" message): an older view of the runs never
  // replaces a newer one.
  function show(newRun) {
    if (!newRun || (run && !newer(newRun, run))) return;
    run = newRun;
    if (run.state !== "running") stopping = false;
    best = Math.max(best, run.best || 0, run.reached || 0);
    draw();
  }

  // ----- drawing --------------------------------------------------------------------

  function draw() {
    drawControls();
    drawReached();
    drawStages();
  }

  // The buttons and the state line only: the page's poll calls this every second, so
  // it never rebuilds the stages (a link there keeps its focus).
  function drawControls() {
    const serving = sandbox.status === "running";
    runButton.disabled = starting || running() || !serving || !url();
    runButton.textContent = run ? gettext("Check again") : gettext("Check my server");
    through.disabled = running();
    stopButton.hidden = !running();
    stopButton.disabled = stopping;
    stopButton.textContent = stopping ? gettext("Stopping…") : gettext("Stop the checks");
    state.textContent = stateText(serving);
  }

  function stateText(serving) {
    if (!url()) return gettext("Checks are not available here.");
    if (running()) {
      const done = doneCount(run);
      // A run waiting for its turn (the playground runs a few at a time) says so.
      if (!done && run.message) return run.message;
      const now = (run.stages || []).find((s) => s.state === "running");
      return now
        ? L10N.f(gettext("Checking stage %(stage)s of %(through)s… %(done)s checks done."),
                 { stage: now.number, through: run.through, done })
        : L10N.f(gettext("Checking… %(done)s checks done."), { done });
    }
    if (!serving) return gettext("Start the sandbox (above) to check it: the checks talk to the running server.");
    if (starting) return gettext("Starting the checks…");
    if (run) {
      const text = L10N.f(gettext("Run %(number)s: %(state)s."), { number: run.number, state: RUN_STATE[run.state] || run.state });
      return run.message ? text + " " + run.message : text;
    }
    return gettext("Not checked yet.");
  }

  function drawReached() {
    reachedBox.textContent = "";
    delete reachedBox.dataset.reached; // only while a finished run is shown
    if (!run || running()) {
      if (best) reachedBox.append(L10N.f(gettext("best so far: stage %(best)s"), { best }));
      return;
    }
    const strong = el("strong", "reached-number", L10N.f(gettext("Stage reached: %(reached)s of %(through)s"),
                                                         { reached: run.reached, through: run.through }));
    reachedBox.dataset.reached = String(run.reached);
    reachedBox.append(strong);
    if (best) reachedBox.append(" · ", L10N.f(gettext("best so far: stage %(best)s"), { best }));
  }

  function drawStages() {
    const shown = run && run.stages && run.stages.length ? run.stages : stages;
    list.textContent = "";
    for (const stage of shown) list.append(stageItem(stage));
  }

  function stageItem(stage) {
    const stageState = stage.state || "pending";
    const item = el("li", "check-stage");
    item.dataset.stage = String(stage.number);
    item.dataset.state = run ? stageState : "pending";
    const details = el("details");
    details.open = opened.has(stage.number) ? opened.get(stage.number)
      : stageState === "failed" || stageState === "running";
    details.addEventListener("toggle", () => opened.set(stage.number, details.open));
    const summary = el("summary");
    summary.append(el("span", "stage-number", String(stage.number)), " ",
                   el("span", "stage-title", stage.title), " ");
    if (run) summary.append(el("span", "stage-state state-" + stageState, STAGE_STATE[stageState] || stageState));
    if (run && stageState === "running" && stage.total) {
      summary.append(" ", el("span", "muted", L10N.f(gettext("%(done)s of %(total)s checks"),
                                                     { done: (stage.checks || []).length, total: stage.total })));
    }
    details.append(summary, el("p", "muted stage-summary", stage.summary || ""));
    if (stage.rfc && stage.rfc.length) {
      const refs = el("p", "stage-rfc muted", gettext("Rests on:") + " ");
      stage.rfc.forEach((ref, i) => refs.append(i ? ", " : "", outLink(ref.label, ref.url)));
      details.append(refs);
    }
    // Before any run, the stage list names the checks it will run.
    const checks = stage.checks || [];
    if (checks.length) {
      const ol = el("ol", "checks");
      for (const outcome of checks) ol.append(run ? checkItem(outcome) : plannedItem(outcome));
      details.append(ol);
    }
    item.append(details);
    return item;
  }

  function plannedItem(check) {
    const li = el("li", "check planned");
    li.dataset.label = check.label;
    li.append(el("span", "check-mark muted", "·"), " ", el("span", "check-label", check.label), " ",
              el("span", "check-title", check.title));
    return li;
  }

  function checkItem(outcome) {
    const li = el("li", "check " + (outcome.passed ? "passed" : "failed"));
    li.dataset.label = outcome.label;
    const head = el("div", "check-head");
    head.append(el("span", "check-mark", outcome.passed ? "✓" : "✗"), " ",
                el("span", "check-label", outcome.label), " ", el("span", "check-title", outcome.title));
    if (outcome.seconds != null) head.append(" ", el("span", "muted", formatMicros(Math.round(outcome.seconds * 1e6))));
    const seqs = outcome.exchanges || [];
    if (seqs.length) {
      const links = el("span", "check-exchanges muted", " " + gettext("its requests:") + " ");
      seqs.slice(0, 8).forEach((seq, i) => links.append(i ? " " : "", trafficLink("#" + seq, seq)));
      if (seqs.length > 8) links.append(" …");
      head.append(links);
    }
    li.append(head);
    if (outcome.failure) li.append(failureBox(outcome, outcome.failure));
    return li;
  }

  function failureBox(outcome, failure) {
    const box = el("div", "check-failure");
    box.append(el("p", "failure-message", failure.message));
    const received = failure.received_b64 != null ? decodeReceived(failure.received_b64)
      : latin1Bytes(failure.received || "");
    if (failure.expected || received.length) {
      const pair = el("div", "expected-received");
      pair.append(column(gettext("Expected"), expectedBytes(failure.expected || ""), "expected"),
                  column(gettext("Received"), received, "received", receivedMark(failure, received)));
      box.append(pair);
    }
    const where = el("p", "failure-where");
    if (failure.offset != null) {
      where.append(failure.side === "request"
        ? L10N.f(gettext("At byte %(offset)s of the request (counted from 0)."), { offset: failure.offset })
        : L10N.f(gettext("At byte %(offset)s of the response (counted from 0)."), { offset: failure.offset }));
    }
    if (failure.exchange != null) {
      const mark = failure.offset != null ? (failure.side || "response") + ":" + failure.offset : "";
      const link = trafficLink(failure.offset != null ? gettext("Show the byte ↗") : gettext("Show the exchange ↗"),
                               failure.exchange, mark, outcome.label);
      link.className = "btn small show-byte";
      where.append(" ", link);
    } else {
      where.append(" ", gettext("No exchange shows it: the server never answered on that connection."));
    }
    box.append(where);
    if (failure.hint) box.append(hintLine(failure.hint));
    if (failure.console) {
      box.append(el("p", "muted", gettext("Your server's last output (it ended during the check):")),
                 el("pre", "console failure-console", failure.console));
    }
    return box;
  }

  function column(title, bytes, kind, mark = -1) {
    const col = el("div", "side " + kind);
    const pre = el("div", "bytes");
    if (bytes.length) renderText(pre, bytes, mark);
    else pre.append(el("span", "muted", kind === "received" ? gettext("(nothing)") : "—"));
    col.append(el("h4", "", title), pre);
    return col;
  }

  // The hint: its text, its glossary entry (glossary page) and the RFC section.
  function hintLine(hint) {
    const p = el("p", "check-hint");
    p.dataset.hint = hint.key;
    p.append(el("strong", "", gettext("Hint:")), " ", hint.text || "", " ");
    const glossaryLink = el("a", "hint-glossary", gettext("In the glossary"));
    glossaryLink.href = glossaryPage + "#hint-" + hint.key;
    glossaryLink.target = "_blank";
    glossaryLink.rel = "noopener";
    p.append(glossaryLink);
    const rfc = typeof hint.rfc === "string" ? { url: hint.rfc, label: "" } : hint.rfc;
    if (rfc && rfc.url) p.append(" · ", outLink(rfc.label || rfcLabel(rfc.url), rfc.url));
    return p;
  }

  function trafficLink(text, seq, mark, check) {
    const a = el("a", "", text);
    const query = new URLSearchParams({ exchange: String(seq) });
    if (mark) { query.set("mark", mark); query.set("check", check); }
    a.href = sandbox.links.traffic + "?" + query;
    a.target = "_blank";
    a.rel = "noopener";
    return a;
  }

  runButton.addEventListener("click", start);
  stopButton.addEventListener("click", stop);
  live.on("checks", (msg) => show(msg.run));
  live.on("open", load); // (re)connected: read what may have been missed

  return {
    // The page's poll brings the sandbox's JSON: the button follows its status.
    update(sb) {
      const hadUrl = Boolean(url());
      sandbox = sb;
      if (!hadUrl && url()) load();
      else drawControls();
    },
  };
}

// Is `a` a later view than `b`: a later run, or the same run further on (more checks
// done, or ended)?
function newer(a, b) {
  if (a.id !== b.id) return a.id > b.id;
  const [doneA, doneB] = [doneCount(a), doneCount(b)];
  return doneA > doneB || (doneA === doneB && (a.state !== "running" || b.state === "running"));
}

// How many checks of a run have finished.
const doneCount = (run) => (run.stages || []).reduce((n, s) => n + (s.checks || []).length, 0);

function outLink(text, href) {
  const a = el("a", "", text);
  a.href = href;
  a.target = "_blank";
  a.rel = "noopener";
  return a;
}

// "https://www.rfc-editor.org/rfc/rfc9112#section-2.2" -> "RFC 9112 §2.2"
function rfcLabel(href) {
  const m = /rfc(\d+)(?:#section-([\d.]+))?/i.exec(href);
  return m ? "RFC " + m[1] + (m[2] ? " §" + m[2] : "") : href;
}

// A stored failure's bytes; a damaged field shows none rather than breaking the panel.
function decodeReceived(text) {
  try {
    return fromBase64(text);
  } catch (err) {
    return new Uint8Array(0);
  }
}

// Where the failure's byte is in `received`, or -1. The engine sends the whole message
// when it is shorter than RECEIVED_WINDOW, else a window around the byte that starts at
// `received_start` (docs/checks.md); without that, a window is not marked.
const RECEIVED_WINDOW = 2048;
function receivedMark(failure, received) {
  if (failure.offset == null) return -1;
  const start = failure.received_start != null ? failure.received_start
    : received.length < RECEIVED_WINDOW ? 0 : null;
  return start == null ? -1 : failure.offset - start;
}

// The engine writes CR and LF in `expected` as the two characters \r and \n (so the
// text reads like the starter's Python); shown like the received bytes, as ␍ and ␊.
const expectedBytes = (text) => new TextEncoder().encode(
  text.replace(/\\r/g, "\r").replace(/\\n/g, "\n"));
