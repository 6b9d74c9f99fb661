// The traffic page's head: the sandbox's status (badge, sentence, the "Open" link) and
// the websocket's state. Texts from the server are already worded for this viewer.
import { gettext } from "./i18n-helpers.js";
import { $, el } from "./dom.js";
import { STATUS_TEXT } from "./cards.js";
// A teacher's read-only look has a banner with Stop beside this status (read-only.js).
import "./read-only.js";

const open = $("open-sandbox");

// The sandbox's status (a "status" message, or the page's initial data); true when it
// says the sandbox was deleted.
export function showStatus(s) {
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
    return true;
  }
  $("status-text").textContent = text;
  const running = s.status === "running";
  open.classList.toggle("disabled", !running);
  open.setAttribute("aria-disabled", String(!running));
  return false;
}

export function setConnState(name, text) {
  const node = $("conn-state");
  node.dataset.state = name;
  node.textContent = text;
}
