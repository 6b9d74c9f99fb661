// The traffic page's layout (docs/traffic-ui.md, "Layout and accessibility"): which
// view is shown (the exchanges or the composer, as tabs), and where the exchange detail
// goes. From WIDE_QUERY up the list and the detail sit side by side, split by a divider
// that the mouse drags or the arrow keys move; the split is kept in localStorage. Below
// it the detail opens over the list as a modal dialog: the rest of the page is inert,
// Esc or the backdrop closes it, and focus goes back where it was. The panes only watch
// the detail's `hidden` attribute (exchange.js shows and hides it), so they never need
// to know how an exchange is drawn.
import { $ } from "./dom.js";

// The same width as panes.css's media query: below it two panes would each be too
// narrow for a request line.
const WIDE_QUERY = "(min-width: 1200px)";
// The list's share of the width, in percent: kept between MIN and MAX so neither pane
// can be dragged out of sight; KEY_STEP per arrow key press.
const MIN_SHARE = 20;
const MAX_SHARE = 80;
const DEFAULT_SHARE = 50;
const KEY_STEP = 2;
const SHARE_KEY = "playground.traffic.listShare";

// Esc and the backdrop close the detail as its own Close button does (exchange.js).
const closeDetail = () => $("detail-close").click();

// Run once as traffic.js imports this module (module scripts run after the page is parsed).
initPanes();

function initPanes() {
  const inspector = $("inspector");
  const detail = $("detail");
  const divider = $("pane-divider");
  const wide = window.matchMedia(WIDE_QUERY);
  let opener = null; // what had focus when the detail opened: it gets it back
  let inerted = []; // what the overlay made inert, to undo exactly that

  initTabs($("view-tabs"), () => arrange());
  setShare(divider, inspector, storedShare());
  dragDivider(divider, inspector);

  function arrange() {
    const open = !detail.hidden;
    // Another view's tab hides the inspector, and the dialog with it: nothing is inert then.
    const overlay = open && !wide.matches && !inspector.hidden;
    inspector.classList.toggle("detail-open", open); // the CSS reads `hidden` itself
    for (const el of inerted) el.inert = false;
    inerted = [];
    if (overlay) {
      detail.setAttribute("role", "dialog");
      detail.setAttribute("aria-modal", "true");
      inerted = inertOutside(detail);
      // Focus belongs in the dialog (what had it outside is inert now).
      if (!detail.contains(document.activeElement)) $("detail-close").focus({ preventScroll: true });
    } else {
      detail.removeAttribute("role");
      detail.removeAttribute("aria-modal");
    }
  }

  new MutationObserver(() => {
    if (!detail.hidden && !inspector.classList.contains("detail-open")) {
      opener = document.activeElement;
      arrange();
    } else if (detail.hidden && inspector.classList.contains("detail-open")) {
      arrange();
      if (opener && opener.isConnected) opener.focus({ preventScroll: true });
      opener = null;
    }
  }).observe(detail, { attributes: true, attributeFilter: ["hidden"] });
  wide.addEventListener("change", arrange);

  $("pane-backdrop").addEventListener("click", () => closeDetail());
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || detail.hidden || inspector.hidden || event.defaultPrevented) return;
    // In the dialog Esc always closes it; side by side only from inside the detail
    // (elsewhere Esc belongs to whatever has focus, e.g. the filter).
    if (wide.matches && !detail.contains(event.target)) return;
    event.preventDefault();
    closeDetail();
  });
  arrange();
}

// The page's view tabs: one selected, its panel shown (the ARIA tabs pattern: arrow keys
// move between tabs, Tab goes into the panel). ?compose=… (the tour's link) or
// #composer opens the composer's; so do the detail's "Re-send" and "Open in composer".
// changed: called after another tab was chosen.
function initTabs(list, changed) {
  const tabs = Array.from(list.querySelectorAll("[role=tab]"));
  function select(tab, focus = false) {
    for (const t of tabs) {
      const chosen = t === tab;
      t.setAttribute("aria-selected", String(chosen));
      t.tabIndex = chosen ? 0 : -1;
      const panel = $(t.getAttribute("aria-controls"));
      if (!panel) continue;
      panel.hidden = !chosen;
      panel.setAttribute("role", "tabpanel");
      panel.setAttribute("aria-labelledby", t.id);
    }
    if (focus) tab.focus();
    changed();
  }
  list.addEventListener("click", (event) => {
    const tab = event.target.closest("[role=tab]");
    if (tab) select(tab);
  });
  list.addEventListener("keydown", (event) => {
    const at = tabs.indexOf(document.activeElement);
    const moves = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 };
    if (at < 0 || !(event.key in moves)) return;
    event.preventDefault();
    select(tabs[(moves[event.key] + tabs.length) % tabs.length], true);
  });
  const byPanel = (id) => tabs.find((t) => t.getAttribute("aria-controls") === id);
  const composer = byPanel("composer");
  const wanted = new URLSearchParams(location.search).has("compose") || location.hash === "#composer";
  // (A teacher's read-only look hides the composer's tab with the composer: `.writes`.)
  select(wanted && composer && composer.checkVisibility() ? composer : tabs[0]);
  // The detail's replay buttons (composer.js) fill the composer: show it. "Copy as
  // escaped string" only copies, so the detail stays.
  const actions = $("detail-actions");
  if (actions && composer) {
    actions.addEventListener("click", (event) => {
      if (event.target.closest("button[data-replay]:not([data-replay=string])")) select(composer);
    }, true);
  }
}

function storedShare() {
  let value = NaN;
  try { value = Number(localStorage.getItem(SHARE_KEY)); } catch (err) { /* storage off */ }
  return value >= MIN_SHARE && value <= MAX_SHARE ? value : DEFAULT_SHARE;
}

function setShare(divider, inspector, share, keep = false) {
  const value = Math.round(Math.min(MAX_SHARE, Math.max(MIN_SHARE, share)));
  inspector.style.setProperty("--list-share", value + "%");
  divider.setAttribute("aria-valuenow", String(value));
  if (keep) {
    try { localStorage.setItem(SHARE_KEY, String(value)); } catch (err) { /* storage off */ }
  }
  return value;
}

// The divider follows the pointer while pressed (pointer capture: it keeps following
// outside the divider), and the arrow keys move it by KEY_STEP; the end is kept.
function dragDivider(divider, inspector) {
  const shareAt = (x) => {
    const box = inspector.getBoundingClientRect();
    return ((x - box.left) / box.width) * 100;
  };
  divider.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    divider.setPointerCapture(event.pointerId);
    divider.classList.add("dragging");
  });
  divider.addEventListener("pointermove", (event) => {
    if (divider.hasPointerCapture(event.pointerId)) setShare(divider, inspector, shareAt(event.clientX));
  });
  const end = (event) => {
    if (!divider.hasPointerCapture(event.pointerId)) return;
    divider.releasePointerCapture(event.pointerId);
    divider.classList.remove("dragging");
    setShare(divider, inspector, shareAt(event.clientX), true);
  };
  divider.addEventListener("pointerup", end);
  divider.addEventListener("pointercancel", end);
  divider.addEventListener("keydown", (event) => {
    const now = Number(divider.getAttribute("aria-valuenow"));
    const moves = { ArrowLeft: now - KEY_STEP, ArrowRight: now + KEY_STEP, Home: MIN_SHARE, End: MAX_SHARE };
    if (!(event.key in moves)) return;
    event.preventDefault();
    setShare(divider, inspector, moves[event.key], true);
  });
}

// Everything but `keep` and its ancestors becomes inert (no focus, no clicks, hidden from
// screen readers), as a modal dialog asks; returns what it changed.
function inertOutside(keep) {
  const changed = [];
  for (let node = keep; node && node !== document.body; node = node.parentElement) {
    for (const sibling of node.parentElement.children) {
      if (sibling === node || sibling.inert || sibling.tagName === "SCRIPT") continue;
      if (sibling.id === "pane-backdrop") continue; // it closes the dialog when clicked
      sibling.inert = true;
      changed.push(sibling);
    }
  }
  return changed;
}
