// Bytes with the ranges that differ marked: the class board's broadcast (each answer
// against henaserver's), the composer's "several sandboxes" (each answer against the
// first) and the comparison of two exchanges (exchange-diff.js) show their diffs the
// same way. Captured bytes are hostile input: they go in through
// bytes.js's renderText (textContent only).
import { gettext } from "./i18n-helpers.js";
import { el } from "./dom.js";
import { renderText } from "./bytes.js";

// `bytes` with CR/LF visible (bytes.renderText), the byte ranges `ranges` ([start, end),
// each {expected}) in .diff-byte spans titled `title` (or, when expected, as a
// difference every server makes). A range that is empty in these bytes (what the other
// side has and this one lacks) is a thin marker where it would be.
export function renderMarked(container, bytes, ranges, title) {
  container.textContent = "";
  let at = 0;
  const plain = (end) => {
    if (end > at) {
      const span = el("span");
      renderText(span, bytes.subarray(at, end));
      container.append(span);
      at = end;
    }
  };
  for (const { start, end, expected } of ranges) {
    plain(start);
    const span = el("span", "diff-byte" + (expected ? " expected" : ""));
    span.dataset.start = String(start);
    span.title = expected ? gettext("differs, as expected (it depends on the server or the time)")
      : title;
    renderText(span, bytes.subarray(start, Math.max(start, end)));
    if (end <= start) span.textContent = "▌";
    container.append(span);
    at = Math.max(at, end);
  }
  plain(bytes.length);
}

// The diff's ranges ({<key>: [start, end], expected}, as classes/diff.py and
// traffic/compare.py give them) as renderMarked's spans in the side named `key`.
export const spansOf = (ranges, key) =>
  (ranges || []).map((r) => ({ start: r[key][0], end: r[key][1], expected: r.expected }));

// An answer beside the one it was compared with (diff.py: `response` is the answer's
// side, `reference` the other's), each a titled <pre> with the differing bytes marked
// and titled `differs`. Each side is {title, bytes}.
export function sideBySide(answer, reference, diff, differs) {
  const ranges = diff && diff.ranges;
  const side = ({ title, bytes }, key) => {
    const box = el("div", "side");
    const pre = el("pre", "raw");
    renderMarked(pre, bytes, spansOf(ranges, key), differs);
    box.append(el("h4", null, title), pre);
    return box;
  };
  const sides = el("div", "sides");
  sides.append(side(answer, "response"), side(reference, "reference"));
  return sides;
}
