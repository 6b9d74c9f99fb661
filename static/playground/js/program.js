// The program panel of a program sandbox (templates/playground/parts/program.html): the
// learner's main file in the code editor, Save and Save and restart, the line of a
// syntax error marked from the sandbox's `program_error`, and the console (what the
// program prints) from the page websocket's "console" messages (live.js).
//
// The source is read and written through GET|PUT /api/sandboxes/<id>/program/
// (docs/api.md). A save takes effect at the next start: the page says so while the
// program runs an older version.
import { gettext, L10N } from "./i18n-helpers.js";
import { $, message } from "./dom.js";
import { api } from "./api.js";
import { CodeEditor } from "./code-editor.js";
import { addConsole } from "./server-console.js";

// live: the page's websocket (live.js), which brings the console's lines.
export function initProgram(panel, card, live) {
  const url = panel.dataset.programUrl;
  const state = $("program-state");
  const problem = $("program-error");
  const saveButton = $("program-save");
  const restartButton = $("program-save-restart");
  const fileName = $("program-file");
  let saved = null; // the text as last loaded or saved
  let mainFile = panel.dataset.mainFile || "main.py";
  let shownError = null; // JSON of the program_error shown (and its start's end), to redraw only on change
  let pendingRestart = ""; // saved while running: the server's notice that it is older

  const editor = new CodeEditor($("program-editor"), { onChange: showState });
  const dirty = () => saved !== null && editor.value !== saved;

  function showState() {
    if (dirty()) state.textContent = gettext("Unsaved changes");
    else if (pendingRestart) state.textContent = pendingRestart;
    else state.textContent = "";
    state.classList.toggle("warn", Boolean(dirty() || pendingRestart));
  }

  async function load() {
    try {
      const data = await api("GET", url);
      if (data.source === null) {
        message(L10N.f(gettext("%(path)s is not UTF-8 text: replace it in the files below, or write a new program here."), { path: data.main_file }), "error");
      }
      saved = data.source || "";
      mainFile = data.main_file || mainFile;
      fileName.textContent = mainFile;
      editor.value = saved;
      showState();
      showError(card.sandbox);
    } catch (err) {
      message(L10N.f(gettext("Could not load the program: %(error)s"), { error: err.message }), "error");
    }
  }

  async function save() {
    const text = editor.value;
    saveButton.disabled = restartButton.disabled = true;
    try {
      const data = await api("PUT", url, { main_file: mainFile, source: text });
      saved = text;
      pendingRestart = (data.restart_needed && data.notice) || "";
      // The marks were for the text the program ran: after a save they may point at the
      // wrong lines; the next start marks again.
      editor.mark([]);
      showState();
      return true;
    } catch (err) {
      message(L10N.f(gettext("Could not save %(path)s: %(error)s"), { path: mainFile, error: err.message }), "error");
      return false;
    } finally {
      saveButton.disabled = restartButton.disabled = false;
    }
  }

  async function saveAndRestart() {
    if (!(await save())) return;
    pendingRestart = "";
    showState();
    const running = card.sandbox.status === "running";
    await card.act(running ? "restart" : "start", running ? gettext("Restarting…") : gettext("Starting…"));
    try {
      update(await api("GET", card.sandbox.links.self));
    } catch (err) { /* the page's poll tries again */ }
  }

  // The sandbox's JSON changed (the page polls it): mark the error's line, if any.
  function update(sb) {
    card.update(sb);
    showError(sb);
  }

  function showError(sb) {
    const error = sb.program_error || null;
    // Each failed start has its own stopped_at: the same error again after a save
    // (which cleared the marks) is marked again.
    const key = JSON.stringify([error, error && sb.stopped_at]);
    if (key === shownError || saved === null) return;
    shownError = key;
    problem.replaceChildren();
    problem.hidden = !error;
    if (!error) { editor.mark([]); return; }
    const where = error.offset
      ? L10N.f(gettext("Line %(line)s, column %(column)s:"), { line: error.line, column: error.offset })
      : L10N.f(gettext("Line %(line)s:"), { line: error.line });
    const go = document.createElement("button");
    go.type = "button";
    go.className = "btn small";
    go.textContent = L10N.f(gettext("Go to line %(line)s"), { line: error.line });
    go.addEventListener("click", () => editor.goTo(error.line, error.offset));
    const text = document.createElement("span");
    text.textContent = where + " " + error.message;
    problem.append(text, " ", go);
    editor.mark([{ line: error.line, message: error.message }]);
  }

  saveButton.addEventListener("click", save);
  restartButton.addEventListener("click", saveAndRestart);
  // Ctrl+S (Cmd+S) saves instead of downloading the page.
  panel.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "s") { e.preventDefault(); save(); }
  });
  window.addEventListener("beforeunload", (e) => {
    if (dirty()) { e.preventDefault(); e.returnValue = ""; }
  });

  load();
  // The traffic websocket brings the console's tail on connect, then each new line.
  live.on("console", (msg) => addConsole(msg.lines, msg.skipped, msg.tail));
  return { update };
}
