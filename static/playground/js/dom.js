// Small DOM helpers shared by every screen: building elements, the message area at the
// top of the page, and the clipboard. Captured bytes are hostile input: text always goes
// in through textContent, never as HTML.
import { gettext } from "./i18n-helpers.js";

// Shorthand for document.getElementById.
export const $ = (id) => document.getElementById(id);

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// A <button type="button">; `data` becomes its data-* attributes (what delegated
// listeners dispatch on).
export function button(label, className, data) {
  const b = el("button", className, label);
  b.type = "button";
  Object.assign(b.dataset, data || {});
  return b;
}

// How long a notice that is not an error stays on screen: time to read two lines twice.
export const NOTICE_MS = 6000;

// Show a message at the top of the page. Errors stay until closed: they say what went
// wrong and may be needed to put it right. Others dismiss themselves (dismissLater).
// Returns the notice, for a caller that must take it back when it stops being true.
export function message(text, kind) {
  const box = $("messages");
  const item = el("div", "notice " + (kind || "info"));
  item.setAttribute("role", kind === "error" ? "alert" : "status");
  const close = button("×", "close");
  close.setAttribute("aria-label", gettext("Dismiss"));
  item.append(el("span", "", text), close);
  box.append(item);
  while (box.children.length > 4) box.firstElementChild.remove();
  if (kind !== "error") dismissLater(item);
  return item;
}

// Each self-dismissing notice's countdown (paused ones too), found through the notice
// itself: one closed by hand or pushed out by newer ones goes with its countdown.
const countdownOf = new WeakMap();

// Remove `item` after NOTICE_MS, counted only while someone could be reading it
// elsewhere: never while the pointer rests on it or the keyboard focus is in it (a
// notice being read does not vanish under its reader, WCAG 2.2.1), nor while the tab
// is hidden (a notice that arrived in a background tab is still there to be seen).
function dismissLater(item) {
  const countdown = { left: NOTICE_MS, since: 0, timer: null, hovered: false, focused: false };
  const held = () => countdown.hovered || countdown.focused || document.hidden;
  countdown.resume = () => {
    if (countdown.timer !== null || held()) return;
    countdown.since = Date.now();
    countdown.timer = setTimeout(() => item.remove(), countdown.left);
  };
  countdown.pause = () => {
    if (countdown.timer === null) return;
    clearTimeout(countdown.timer);
    countdown.timer = null;
    countdown.left -= Date.now() - countdown.since;
  };
  const hold = (flag, value) => () => {
    countdown[flag] = value;
    if (value) countdown.pause(); else countdown.resume();
  };
  item.addEventListener("pointerenter", hold("hovered", true));
  item.addEventListener("pointerleave", hold("hovered", false));
  item.addEventListener("focusin", hold("focused", true));
  item.addEventListener("focusout", (event) => {
    if (!item.contains(event.relatedTarget)) hold("focused", false)();
  });
  countdownOf.set(item, countdown);
  countdown.resume();
}

// The page being hidden pauses every notice on it.
document.addEventListener("visibilitychange", () => {
  for (const notice of document.querySelectorAll("#messages > .notice")) {
    const countdown = countdownOf.get(notice);
    if (!countdown) continue; // an error: it stays until closed
    if (document.hidden) countdown.pause(); else countdown.resume();
  }
});

// One listener for every message's close button (base.html's #messages), and the
// server's own notices (after a redirect: "Class created...") dismiss themselves too.
const messages = $("messages");
if (messages) {
  messages.addEventListener("click", (event) => {
    const close = event.target.closest("button.close");
    if (close) close.closest(".notice").remove();
  });
  for (const notice of messages.querySelectorAll(".notice:not(.error)")) dismissLater(notice);
}

// Called last by each screen's module, once its listeners are attached. Module scripts
// run only after the page is parsed (and after their imports arrive), so a page is on
// screen a moment before its buttons listen: until then playground.css lets them take
// no clicks, instead of losing the click.
export function screenReady() {
  document.documentElement.classList.add("js-ready");
}

// Copy text to the clipboard; falls back to a hidden textarea where the API is missing
// (plain-http pages on a classroom host are not a "secure context").
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = el("textarea");
  area.value = text;
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.append(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}
