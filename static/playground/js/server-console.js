// The traffic page's server console: what henaserver prints (its access log and any
// errors), as the websocket's "console" messages bring it. Bounded to CONSOLE_LINES.
// Messages are put on screen once per animation frame, together: a stream of 1,000
// requests a second prints 1,000 access-log lines a second, and laying the console out
// again for each message cost the page whole frames (bench/traffic_ui_bench.py).
import { ngettext, L10N } from "./i18n-helpers.js";
import { $, el } from "./dom.js";

const consoleBox = $("console");
const CONSOLE_LINES = 500;
let queued = []; // messages not yet on screen
let queuedLines = 0;

export function addConsole(lines, skipped, tail) {
  if (!queued.length) requestAnimationFrame(flush);
  queued.push({ lines, skipped, tail });
  queuedLines += lines.length;
  // A hidden tab has no animation frames: never hold more than the console shows.
  if (queuedLines > 2 * CONSOLE_LINES) flush();
}

function flush() {
  const batch = queued;
  queued = [];
  queuedLines = 0;
  if (!batch.length) return;
  const atBottom = consoleBox.scrollTop + consoleBox.clientHeight >= consoleBox.scrollHeight - 8;
  let frag = document.createDocumentFragment();
  let tailed = false;
  for (const { lines, skipped, tail } of batch) {
    if (tail) { frag = document.createDocumentFragment(); tailed = true; }
    if (skipped) {
      frag.append(el("span", "muted", "… " + L10N.f(ngettext("%(count)s line skipped", "%(count)s lines skipped",
                                                                skipped), { count: skipped }) + " …\n"));
    }
    for (const line of lines.slice(-CONSOLE_LINES)) frag.append(el("span", line.stream, line.text + "\n"));
  }
  while (frag.childNodes.length > CONSOLE_LINES) frag.firstChild.remove();
  if (tailed) consoleBox.textContent = "";
  consoleBox.append(frag);
  const extra = consoleBox.childNodes.length - CONSOLE_LINES;
  if (extra > 0) {
    const older = document.createRange();
    older.setStartBefore(consoleBox.firstChild);
    older.setEndAfter(consoleBox.childNodes[extra - 1]);
    older.deleteContents();
  }
  if (atBottom || tailed) consoleBox.scrollTop = consoleBox.scrollHeight;
}
