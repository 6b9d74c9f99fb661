// A code editor without a build step: a plain <textarea> (so the browser's own undo,
// search, spell-check off, IME for Japanese and screen readers all keep working), a
// gutter of line numbers beside it and bands over marked lines (a syntax error's).
// Lines never wrap (wrap="off"), so line N of the gutter is line N of the text.
//
// Keys: Tab inserts four spaces (Python's indent); Escape then Tab leaves the editor, as
// the help says, so the keyboard is never trapped. Enter keeps the line's indentation,
// plus four spaces after a line ending in ":".
import { el } from "./dom.js";

const INDENT = "    ";

export class CodeEditor {
  // root holds a <textarea>; the gutter and the mark layer are added around it.
  constructor(root, { onChange } = {}) {
    this.root = root;
    this.text = root.querySelector("textarea");
    this.text.wrap = "off";
    this.text.spellcheck = false;
    this.gutter = el("div", "gutter");
    this.gutter.setAttribute("aria-hidden", "true");
    this.layer = el("div", "marks");
    this.layer.setAttribute("aria-hidden", "true");
    const area = el("div", "code-area");
    this.text.replaceWith(area);
    area.append(this.layer, this.text);
    root.prepend(this.gutter);
    this.marks = new Map(); // line number -> title (the message)
    this.lines = 0;
    this.escaped = false;
    this.onChange = onChange || (() => {});

    this.text.addEventListener("input", () => { this.draw(); this.onChange(); });
    this.text.addEventListener("scroll", () => this.follow());
    this.text.addEventListener("keydown", (e) => this.key(e));
    // A resized textarea (its handle) or window: the bands are placed in pixels.
    new ResizeObserver(() => this.follow()).observe(this.text);
    this.draw();
  }

  get value() { return this.text.value; }

  set value(text) {
    this.text.value = text;
    this.draw();
  }

  // Mark lines: an array of {line, message}; [] clears them.
  mark(items) {
    this.marks = new Map(items.filter((m) => m.line >= 1).map((m) => [m.line, m.message || ""]));
    this.draw(true);
  }

  // Put the caret at the start of `line` and scroll it into view.
  goTo(line, column) {
    const starts = [0];
    const text = this.text.value;
    for (let i = 0; i < text.length; i++) if (text[i] === "\n") starts.push(i + 1);
    const index = line - 1 < starts.length ? starts[line - 1] : text.length;
    const at = Math.min(index + Math.max((column || 1) - 1, 0), text.length);
    this.text.focus();
    this.text.setSelectionRange(at, at);
    const height = this.lineHeight();
    const top = (line - 1) * height;
    if (top < this.text.scrollTop || top > this.text.scrollTop + this.text.clientHeight - 2 * height) {
      this.text.scrollTop = Math.max(0, top - this.text.clientHeight / 3);
    }
    this.follow();
  }

  lineHeight() {
    return parseFloat(getComputedStyle(this.text).lineHeight) || 18;
  }

  // The gutter's numbers (redrawn only when the line count or the marks change).
  draw(force) {
    const count = this.text.value.split("\n").length;
    if (count !== this.lines || force) {
      this.lines = count;
      const frag = document.createDocumentFragment();
      for (let n = 1; n <= count; n++) {
        const line = el("div", this.marks.has(n) ? "ln marked" : "ln", String(n));
        if (this.marks.has(n)) line.title = this.marks.get(n);
        frag.append(line);
      }
      this.gutter.replaceChildren(frag);
      this.layer.replaceChildren(...[...this.marks.keys()].filter((n) => n <= count).map((n) => {
        const band = el("div", "band");
        band.dataset.line = n;
        return band;
      }));
    }
    this.follow();
  }

  // Keep the gutter and the bands where the text is after a scroll.
  follow() {
    this.gutter.scrollTop = this.text.scrollTop;
    const height = this.lineHeight();
    const pad = parseFloat(getComputedStyle(this.text).paddingTop) || 0;
    for (const band of this.layer.children) {
      band.style.top = pad + (band.dataset.line - 1) * height - this.text.scrollTop + "px";
      band.style.height = height + "px";
    }
  }

  key(e) {
    if (e.key === "Escape") { this.escaped = true; return; }
    if (e.key === "Tab" && !e.shiftKey && !this.escaped && !e.ctrlKey && !e.altKey) {
      e.preventDefault();
      this.insert(INDENT);
    } else if (e.key === "Enter" && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.isComposing) {
      const text = this.text.value;
      const start = this.text.selectionStart;
      const lineStart = text.lastIndexOf("\n", start - 1) + 1;
      const line = text.slice(lineStart, start);
      let indent = line.match(/^[ \t]*/)[0];
      if (/:\s*$/.test(line)) indent += INDENT;
      e.preventDefault();
      this.insert("\n" + indent);
    }
    if (e.key !== "Escape") this.escaped = false;
  }

  // Insert at the caret as typing would (so Ctrl+Z undoes it), replacing a selection.
  insert(text) {
    if (!document.execCommand("insertText", false, text)) {
      this.text.setRangeText(text, this.text.selectionStart, this.text.selectionEnd, "end");
      this.text.dispatchEvent(new Event("input"));
    }
  }
}
