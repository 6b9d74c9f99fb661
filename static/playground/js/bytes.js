// Showing captured bytes safely and exactly: visible CR/LF, a hex dump, decoded bodies,
// and where a head ends. Captured bytes are hostile input: everything here builds text
// nodes and spans with textContent, never HTML strings.
import { gettext, interpolate } from "./i18n-helpers.js";
import { el } from "./dom.js";

const LF = 0x0a;
const CR = 0x0d;

// Names for other control bytes a learner meets: the Unicode "control pictures" (TAB,
// CR and LF are drawn by renderText itself, each with its own title).
const PICTURES = { 0x00: "␀", 0x1b: "␛", 0x7f: "␡" };

export const hex2 = (b) => (b < 16 ? "0" : "") + b.toString(16);

export const latin1 = (bytes) => new TextDecoder("latin1").decode(bytes);

// The API's *_b64 fields. Encoding goes in chunks: spreading a large array into one
// String.fromCharCode call would overflow the call stack.
export function toBase64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
export const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

// Where the head that starts at `start` ends: [headEnd, bodyStart], or [-1, -1] if it
// never ended. RFC 9112 section 2.2 lets a recipient take a bare LF as a line
// terminator (what people type into netcat), so the head ends at the first LF that is
// followed by LF or by CR LF. headEnd is just after the last header line's LF,
// bodyStart just after the empty line. The same rule as henaserver's find_head_end;
// the cases are in tests/data/head_split.json (tests/e2e/test_js_modules.py).
export function headEnd(bytes, start = 0) {
  for (let i = bytes.indexOf(LF, start); i >= 0; i = bytes.indexOf(LF, i + 1)) {
    if (bytes[i + 1] === LF) return [i + 1, i + 2];
    if (bytes[i + 1] === CR && bytes[i + 2] === LF) return [i + 1, i + 3];
  }
  return [-1, -1];
}

// Length of a valid UTF-8 sequence starting at i, or 0 (then the byte is shown as \xNN).
export function utf8Length(bytes, i) {
  const b = bytes[i];
  let n = 0;
  let min = 0;
  if (b >= 0xc2 && b <= 0xdf) { n = 2; min = 0x80; }
  else if (b >= 0xe0 && b <= 0xef) { n = 3; min = 0x800; }
  else if (b >= 0xf0 && b <= 0xf4) { n = 4; min = 0x10000; }
  else return 0;
  if (i + n > bytes.length) return 0;
  let cp = b & (0xff >> (n + 1));
  for (let k = 1; k < n; k++) {
    const c = bytes[i + k];
    if ((c & 0xc0) !== 0x80) return 0;
    cp = (cp << 6) | (c & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

// Render `bytes` (Uint8Array) into `container` as text with every byte accounted for:
// CR as ␍ and LF as ␊ followed by a real line break, other control bytes as pictures or
// \xNN, valid UTF-8 as its characters (Japanese stays readable), invalid bytes as \xNN.
// `mark`, an offset into `bytes`, puts the byte there (or the character it is part of)
// in a span of its own, `.marked-byte`: the caret of a failed check (checks.js links
// here). The line break after a marked LF stays outside it, so explain.js still finds
// the lines.
export function renderText(container, bytes, mark = -1) {
  container.textContent = "";
  const frag = document.createDocumentFragment();
  let out = frag; // where pieces go: the fragment, or the marked byte's span
  let text = "";
  const flush = () => { if (text) { out.append(document.createTextNode(text)); text = ""; } };
  const ctl = (label, title) => {
    flush();
    const span = el("span", "ctl", label);
    span.title = title;
    out.append(span);
  };
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    const n = b >= 0x80 ? utf8Length(bytes, i) : 0;
    const marked = mark >= i && mark < i + Math.max(n, 1);
    if (marked) { flush(); out = markedByte(mark); }
    let after = "";
    if (b === LF) { ctl("␊", "LF (0x0a)"); after = "\n"; }
    else if (b === CR) ctl("␍", "CR (0x0d)");
    else if (b === 0x09) { ctl("␉", "TAB (0x09)"); after = "\t"; }
    else if (b < 0x20 || b === 0x7f) {
      ctl(PICTURES[b] || "\\x" + hex2(b), interpolate(gettext("byte 0x%s"), [hex2(b)]));
    } else if (b < 0x80) text += String.fromCharCode(b);
    else if (n) {
      text += new TextDecoder().decode(bytes.subarray(i, i + n));
      i += n - 1;
    } else ctl("\\x" + hex2(b), interpolate(gettext("byte 0x%s (not UTF-8)"), [hex2(b)]));
    if (marked) { flush(); frag.append(out); out = frag; }
    text += after;
  }
  flush();
  container.append(frag);
}

function markedByte(offset) {
  const span = el("span", "marked-byte");
  span.dataset.offset = String(offset);
  span.title = interpolate(gettext("byte %s: the check points here"), [offset]);
  return span;
}

// Classic hex dump: offset, 16 bytes in two groups of 8, then printable ASCII.
export const hexDump = (bytes) => hexLines(bytes, 0, bytes.length);

// The dump's lines for the rows of bytes[from..to), numbered by their offset in `bytes`.
function hexLines(bytes, from, to) {
  const lines = [];
  for (let off = from; off < to; off += 16) {
    const row = bytes.subarray(off, Math.min(off + 16, to));
    let hex = "";
    let ascii = "";
    for (let k = 0; k < 16; k++) {
      if (k === 8) hex += " ";
      if (k < row.length) {
        hex += hex2(row[k]) + " ";
        ascii += row[k] >= 0x20 && row[k] < 0x7f ? String.fromCharCode(row[k]) : ".";
      } else hex += "   ";
    }
    lines.push(off.toString(16).padStart(8, "0") + "  " + hex + " |" + ascii + "|");
  }
  return lines.join("\n");
}

// The hex dump into `container`, the byte at `mark` (if any) in a `.marked-byte` span
// both in the hex columns and in the ASCII column.
export function renderHex(container, bytes, mark = -1) {
  container.textContent = "";
  if (!(mark >= 0 && mark < bytes.length)) {
    container.textContent = hexDump(bytes);
    return;
  }
  const start = mark - (mark % 16);
  const k = mark % 16;
  const line = hexLines(bytes, start, Math.min(start + 16, bytes.length));
  const hexAt = 10 + 3 * k + (k >= 8 ? 1 : 0); // "00000010  ", then "xx " per byte
  const asciiAt = line.indexOf(" |") + 2 + k; // the hex columns hold no "|"
  const before = hexLines(bytes, 0, start);
  const after = hexLines(bytes, start + 16, bytes.length);
  const hexByte = markedByte(mark);
  hexByte.textContent = line.slice(hexAt, hexAt + 2);
  const asciiByte = markedByte(mark);
  asciiByte.textContent = line[asciiAt];
  container.append((before ? before + "\n" : "") + line.slice(0, hexAt), hexByte,
                   line.slice(hexAt + 2, asciiAt), asciiByte,
                   line.slice(asciiAt + 1) + (after ? "\n" + after : ""));
}

// Split a message into its final head and body, the head's end found by headEnd().
// Interim 1xx responses (100 Continue) come first in a recorded response; they are
// returned in `interim`. A head is returned as Latin-1 text without its last line's
// terminator, so splitting it into lines gives no trailing empty line.
export function split(bytes) {
  let start = 0;
  const interim = [];
  for (;;) {
    const [end, bodyStart] = headEnd(bytes, start);
    if (end < 0) return { head: latin1(bytes.subarray(start)), body: new Uint8Array(0), interim, complete: false };
    const head = latin1(bytes.subarray(start, end)).replace(/\r?\n$/, "");
    const code = head.slice(9, 12);
    if (code[0] === "1" && code !== "101" && head.startsWith("HTTP/")) {
      interim.push(head);
      start = bodyStart;
      continue;
    }
    return { head, body: bytes.subarray(bodyStart), interim, complete: true };
  }
}

// The lines of a head (CRLF or bare LF), without its last line's terminator.
export const headLines = (head) => head.replace(/\r?\n$/, "").split(/\r?\n/);

// Header lines of a head as [name, value] pairs (the first line is skipped).
export function headers(head) {
  return headLines(head).slice(1).map((line) => {
    const colon = line.indexOf(":");
    return colon < 0 ? [line, ""] : [line.slice(0, colon), line.slice(colon + 1).trim()];
  });
}

export function header(headerList, name) {
  const found = headerList.find(([n]) => n.toLowerCase() === name);
  return found ? found[1] : "";
}

// Text of a body with the charset from Content-Type, else UTF-8 (bad bytes become �).
export function decode(body, contentType) {
  const match = /charset\s*=\s*"?([^";\s]+)/i.exec(contentType || "");
  try {
    return new TextDecoder(match ? match[1] : "utf-8").decode(body);
  } catch (err) {
    return new TextDecoder("utf-8").decode(body);
  }
}

export function isText(type) {
  return /^text\/|json|javascript|xml|x-www-form-urlencoded/i.test(type || "");
}
