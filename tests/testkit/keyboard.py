"""Which of a page's controls the Tab key never reaches, in a real browser.

Every visible control is marked, then Tab is pressed until focus comes back round (or
enough presses for all of them); what was never focused is returned, described so an
assertion message says which. A file input hidden inside its label (the upload buttons'
pattern) counts as a control when its label shows: that is the button a learner sees.
Radio buttons of one name are one stop (the arrow keys move between them), as browsers do,
and so are the tabs of one tablist (the ARIA tabs pattern: one tab in the Tab order). In a
textarea Escape is pressed before Tab: the code editor keeps Tab for indenting and lets
Escape then Tab leave (code-editor.js), as its help says.
"""

from __future__ import annotations

from typing import Any

_MARK = """() => {
  // checkVisibility also says no inside a closed <details> (content-visibility: hidden).
  const shown = (el) => el.checkVisibility({visibilityProperty: true});
  const selector = 'a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), '
    + 'select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])';
  const found = [];
  let n = 0;
  for (const el of document.querySelectorAll(selector)) {
    const label = el.type === "file" ? el.closest("label") : null;
    if (!shown(el) && !(label && shown(label))) continue;
    // Disabled ones are out of the Tab order on purpose (a link disabled with aria-disabled too).
    if (el.closest("[inert]") || el.getAttribute("aria-disabled") === "true") continue;
    const tablist = el.getAttribute("role") === "tab" && el.closest("[role=tablist]");
    if (tablist && !tablist.dataset.tabList) tablist.dataset.tabList = "t" + (n++);
    el.dataset.tabStop = el.type === "radio" && el.name ? "radio:" + el.name
      : tablist ? "tablist:" + tablist.dataset.tabList : "c" + (n++);
    if (found.some((f) => f.stop === el.dataset.tabStop)) continue;
    const name = el.getAttribute("aria-label") || (label || el).textContent || el.name || "";
    found.push({stop: el.dataset.tabStop,
                what: el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + " "
                  + name.trim().slice(0, 40)});
  }
  return found;
}"""

_ACTIVE = "() => (document.activeElement && document.activeElement.dataset.tabStop) || null"
_IN_TEXTAREA = "() => document.activeElement && document.activeElement.tagName === 'TEXTAREA'"


def unreachable(page: Any) -> list[str]:
    """The visible controls of ``page`` that pressing Tab from the top never focuses."""
    controls = page.evaluate(_MARK)
    wanted = {c["stop"]: c["what"] for c in controls}
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    reached: set[str] = set()
    first = None
    for _ in range(len(controls) + 30):
        if page.evaluate(_IN_TEXTAREA):
            page.keyboard.press("Escape")
        page.keyboard.press("Tab")
        stop = page.evaluate(_ACTIVE)
        if stop is None:
            continue
        if stop == first:
            break  # round the page once
        first = first or stop
        reached.add(stop)
    return sorted(f"{what} ({stop})" for stop, what in wanted.items() if stop not in reached)
