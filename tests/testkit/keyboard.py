"""Which of a page's controls the Tab key never reaches, in a real browser.

Every visible control is marked, then Tab is pressed until focus comes back round (or
enough presses for all of them); what was never focused is returned, described so an
assertion message says which. A file input hidden inside its label (the upload buttons'
pattern) counts as a control when its label shows: that is the button a learner sees.
Radio buttons of one name are one stop (the arrow keys move between them), as browsers do,
and so are the tabs of one tablist (the ARIA tabs pattern: one tab in the Tab order) and
the rows of one grid (the traffic list: its rows are drawn again as exchanges arrive, so a
row is known by its grid, not by a mark that a redraw would lose). In a
textarea Escape is pressed before Tab: the code editor keeps Tab for indenting and lets
Escape then Tab leave (code-editor.js), as its help says.
"""

from __future__ import annotations

from typing import Any

# The stop an element is, from facts a redraw keeps: a radio group, a tablist or a grid
# is one stop; any other control gets a mark of its own (n: a fresh number).
_STOP_OF = """(el, n) => {
  const group = el.getAttribute("role") === "tab" ? el.closest("[role=tablist]")
    : el.tagName === "TR" ? el.closest("[role=grid]") : null;
  if (group && !group.dataset.tabGroup) group.dataset.tabGroup = "g" + n;
  if (el.type === "radio" && el.name) return "radio:" + el.name;
  if (group) return "group:" + group.dataset.tabGroup;
  if (!el.dataset.tabStop && n !== null) el.dataset.tabStop = "c" + n;
  return el.dataset.tabStop || null;
}"""

_MARK = "() => {\n  const stopOf = " + _STOP_OF + ";\n" + """
  // checkVisibility also says no inside a closed <details> (content-visibility: hidden).
  const shown = (el) => el.checkVisibility({visibilityProperty: true});
  const selector = 'a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), '
    + 'select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])';
  for (const old of document.querySelectorAll("[data-tab-stop], [data-tab-group]")) {
    delete old.dataset.tabStop;  // an earlier walk's marks: numbered afresh below
    delete old.dataset.tabGroup;
  }
  const found = [];
  let n = 0;
  for (const el of document.querySelectorAll(selector)) {
    const label = el.type === "file" ? el.closest("label") : null;
    if (!shown(el) && !(label && shown(label))) continue;
    // Disabled ones are out of the Tab order on purpose (a link disabled with aria-disabled too).
    if (el.closest("[inert]") || el.getAttribute("aria-disabled") === "true") continue;
    const stop = stopOf(el, n++);
    if (found.some((f) => f.stop === stop)) continue;
    const name = el.getAttribute("aria-label") || (label || el).textContent || el.name || "";
    found.push({stop, what: el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + " "
                              + name.trim().slice(0, 40)});
  }
  return found;
}"""

_ACTIVE = "() => document.activeElement ? (" + _STOP_OF + ")(document.activeElement, null) : null"
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
