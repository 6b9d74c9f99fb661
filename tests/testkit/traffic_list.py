"""Reading the traffic page's list as a learner does: it scrolls virtually (only the rows
on screen are in the DOM, static/playground/js/list-view.js), so the whole list is read
by scrolling it from top to bottom, a screenful at a time, and noting each row drawn
(``aria-rowindex`` says where it belongs). It ends at the bottom, where the list follows
new rows again."""

from __future__ import annotations

_READ = """async (describe) => {
  const wrap = document.getElementById("table-wrap");
  const frames = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const seen = new Map();
  const note = () => {
    for (const r of document.querySelectorAll("#traffic-table tbody:first-of-type tr")) {
      seen.set(Number(r.getAttribute("aria-rowindex")), (0, eval)(describe)(r));
    }
  };
  wrap.scrollTop = 0;
  await frames();
  note();
  while (wrap.scrollTop + wrap.clientHeight < wrap.scrollHeight - 1) {
    wrap.scrollTop += Math.max(1, wrap.clientHeight - 40);
    await frames();
    note();
  }
  return [...seen.keys()].sort((a, b) => a - b).map((k) => seen.get(k));
}"""

# A row as "run N" (a divider; "*" for the current run), "runs N-M" (one divider for
# several runs), or its seq.
LAYOUT = """(r) => r.dataset.first ? "runs " + r.dataset.first + "-" + r.dataset.last
  : r.classList.contains("run-divider")
    ? "run " + r.dataset.run + (r.classList.contains("current") ? "*" : "")
    : r.dataset.seq"""


def read(page, describe: str) -> list:
    """The whole list top to bottom, each row as the JavaScript function ``describe``
    (a row's <tr> -> a JSON value) says."""
    return page.evaluate(_READ, describe)


def layout(page) -> list[str]:
    """The whole list top to bottom, each row as LAYOUT says."""
    return read(page, LAYOUT)


def seqs(page) -> list[int]:
    """The seqs of the exchange rows of the whole list, top to bottom."""
    return [int(s) for s in layout(page) if s.isdigit()]


def held(page) -> int:
    """How many exchange summaries the list holds (drawn or not)."""
    return int(page.get_attribute("#traffic-table", "data-held") or 0)


def to_top(page) -> None:
    """Scroll the list to its top (its first dividers are drawn there), and wait until it
    stays there: a draw in the same frame as the scroll, before the page has seen its
    scroll event, still follows the end and puts the list back there."""
    page.locator("#table-wrap").evaluate("""async (el) => {
      const frame = () => new Promise((r) => requestAnimationFrame(r));
      for (let i = 0; i < 50; i++) {
        el.scrollTop = 0;
        await frame();
        await frame();
        if (el.scrollTop === 0) return;
      }
      throw new Error("the list went back to its end 50 times");
    }""")
