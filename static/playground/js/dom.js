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

// Show a message at the top of the page. Errors stay until closed; others fade.
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
  if (kind !== "error") setTimeout(() => item.remove(), 6000);
  return item;
}

// One listener for every message's close button (base.html's #messages).
const messages = $("messages");
if (messages) {
  messages.addEventListener("click", (event) => {
    const close = event.target.closest("button.close");
    if (close) close.closest(".notice").remove();
  });
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
