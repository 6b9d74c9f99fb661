// The traffic page's server console: what henaserver prints (its access log and any
// errors), as the websocket's "console" messages bring it. Bounded to CONSOLE_LINES.
import { ngettext, L10N } from "./i18n-helpers.js";
import { $, el } from "./dom.js";

const consoleBox = $("console");
const CONSOLE_LINES = 500;
export function addConsole(lines, skipped, tail) {
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
