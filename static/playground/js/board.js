// The class board (/classes/<id>/, docs/classes.md): a row per student, live over
// /ws/classes/<id>/ (classes/consumer.py). The page renders the first board into
// #board-data; the socket then sends the whole board on each connect and when someone
// joins or leaves ("board"), and one row per change ("student"). Sorting, filters and
// the projector view are this page's own: nothing is asked of the server for them.
import { gettext, L10N } from "./i18n-helpers.js";
import { $, el, screenReady } from "./dom.js";
import { liveSocket } from "./live.js";
import "./broadcast.js"; // the "One request to everyone" panel (parts/broadcast.html)

const root = $("board");
const tbody = $("board-rows");
const PROJECTOR_KEY = "playground.board.projector";
// Close codes the consumer refuses with: retrying cannot help (docs/api.md).
const FINAL_CLOSE = [4403, 4404];
// A student's status for sorting and filtering: their "liveliest" sandbox.
const STATUS_ORDER = ["running", "starting", "crashed", "stopped", "none"];

const students = new Map(); // id -> ROW
const view = { sort: "name", direction: 1 };

function studentStatus(row) {
  const statuses = new Set(row.sandboxes.map((s) => s.status));
  return STATUS_ORDER.find((status) => statuses.has(status)) || "none";
}

function checkTime(row) {
  const check = row.last_check;
  if (!check) return "";
  return check.ended_at || "\uffff"; // a run still going is the newest of all
}

const COMPARE = {
  name: (a, b) => a.name.localeCompare(b.name, L10N.lang) || a.username.localeCompare(b.username),
  reached: (a, b) => a.reached - b.reached,
  check: (a, b) => checkTime(a).localeCompare(checkTime(b)),
  status: (a, b) => STATUS_ORDER.indexOf(studentStatus(a)) - STATUS_ORDER.indexOf(studentStatus(b)),
};

function matches(row) {
  const text = $("board-filter").value.trim().toLowerCase();
  if (text && !row.name.toLowerCase().includes(text) && !row.username.toLowerCase().includes(text)) {
    return false;
  }
  const stuck = $("board-stuck").value;
  if (stuck && row.stuck_on !== Number(stuck)) return false;
  const status = $("board-status").value;
  return !status || studentStatus(row) === status;
}

function timeOf(iso) {
  return iso ? new Date(iso).toLocaleTimeString(L10N.lang, { hour: "2-digit", minute: "2-digit" }) : "";
}

function sandboxCell(row) {
  const cell = el("td", "board-sandboxes");
  if (!row.sandboxes.length) cell.append(el("span", "muted", gettext("no sandbox")));
  for (const sandbox of row.sandboxes) {
    const item = el("div", "board-sandbox");
    const name = el("a", "", sandbox.name);
    name.href = sandbox.links.page;
    const badge = el("span", "badge status-" + sandbox.status, sandbox.status_text);
    const traffic = el("a", "small", gettext("traffic"));
    traffic.href = sandbox.links.traffic;
    item.append(name, " ", badge, " ", traffic);
    cell.append(item);
  }
  return cell;
}

function reachedCell(row) {
  const cell = el("td", "board-reached");
  cell.append(el("span", "board-stage", String(row.reached)));
  if (row.stuck_on != null) {
    cell.append(" ", el("span", "badge status-crashed board-stuck",
                        L10N.f(gettext("stuck on stage %(n)s"), { n: row.stuck_on })));
  }
  return cell;
}

const CHECK_STATES = {
  running: gettext("checking…"), passed: gettext("passed"), failed: gettext("failed"),
  stopped: gettext("stopped"), interrupted: gettext("interrupted"),
};

function checkCell(row) {
  const cell = el("td", "board-check");
  const check = row.last_check;
  if (!check) {
    cell.append(el("span", "muted", gettext("no check yet")));
    return cell;
  }
  cell.dataset.state = check.state;
  cell.append(el("span", "board-check-state", CHECK_STATES[check.state] || check.state), " ",
              L10N.f(gettext("%(reached)s of %(through)s stages"),
                     { reached: check.reached, through: check.through }));
  if (check.ended_at) cell.append(" ", el("span", "muted", timeOf(check.ended_at)));
  return cell;
}

function failureCell(row) {
  const cell = el("td", "board-failure");
  const failure = row.last_failure;
  if (!failure) return cell;
  cell.append(el("strong", "", failure.check), " ", el("span", "", failure.message));
  if (failure.link) {
    const link = el("a", "btn small", gettext("Show the byte ↗"));
    link.href = failure.link;
    link.target = "_blank";
    link.rel = "noopener";
    cell.append(" ", link);
  }
  return cell;
}

function rowElement(row) {
  const tr = el("tr");
  tr.dataset.student = String(row.id);
  tr.dataset.status = studentStatus(row);
  tr.dataset.reached = String(row.reached);
  const who = el("td", "board-name");
  who.append(el("strong", "", row.name));
  if (row.name !== row.username) who.append(" ", el("span", "muted", row.username));
  tr.append(who, sandboxCell(row), reachedCell(row), checkCell(row), failureCell(row));
  return tr;
}

function draw(changed) {
  const all = [...students.values()];
  const shown = all.filter(matches).sort((a, b) => view.direction * COMPARE[view.sort](a, b)
                                          || a.id - b.id);
  tbody.replaceChildren(...shown.map((row) => {
    const tr = rowElement(row);
    if (row.id === changed) tr.classList.add("changed");
    return tr;
  }));
  $("board-empty").hidden = all.length > 0;
  $("board-nomatch").hidden = !all.length || shown.length > 0;
  $("board-table").hidden = !all.length;
  $("board-count").textContent = all.length
    ? L10N.f(gettext("%(shown)s of %(count)s students shown"), { shown: shown.length, count: all.length })
    : "";
  for (const b of root.querySelectorAll("button.sort")) {
    const sorted = b.dataset.sort === view.sort;
    b.closest("th").setAttribute("aria-sort", sorted ? (view.direction > 0 ? "ascending" : "descending") : "none");
  }
}

function setBoard(board) {
  students.clear();
  for (const row of board.students) students.set(row.id, row);
  draw();
}

// The socket reconnects by itself (live.js), except after a refusal.
function connect() {
  const state = $("board-conn");
  const live = liveSocket(root.dataset.socketPath, { query: "", final: FINAL_CLOSE });
  live.on("open", () => {
    state.dataset.state = "live";
    state.textContent = gettext("live");
  });
  live.on("board", setBoard);
  live.on("student", (msg) => {
    students.set(msg.student.id, msg.student);
    draw(msg.student.id);
  });
  live.on("close", (event) => {
    state.dataset.state = "gone";
    state.textContent = FINAL_CLOSE.includes(event.code) ? gettext("not your class")
                                                          : gettext("reconnecting…");
  });
}

function setProjector(on) {
  document.body.classList.toggle("projector", on);
  $("board-projector").setAttribute("aria-pressed", on ? "true" : "false");
  try { localStorage.setItem(PROJECTOR_KEY, on ? "1" : "0"); } catch (err) { /* private mode */ }
}

root.addEventListener("click", (event) => {
  const sort = event.target.closest("button.sort");
  if (!sort) return;
  view.direction = view.sort === sort.dataset.sort ? -view.direction : 1;
  view.sort = sort.dataset.sort;
  draw();
});
for (const id of ["board-filter", "board-stuck", "board-status"]) {
  $(id).addEventListener("input", () => draw());
}
$("board-projector").addEventListener("click", () => {
  setProjector(!document.body.classList.contains("projector"));
});
let projector = false;
try { projector = localStorage.getItem(PROJECTOR_KEY) === "1"; } catch (err) { /* private mode */ }
setProjector(projector);
setBoard(JSON.parse($("board-data").textContent));
connect();
screenReady();
