// The exchange detail: exact request and response bytes (fetched on demand, never
// pushed), as raw text with CR/LF visible, as a hex dump, or decoded; the timing
// breakdown from the server's timestamps; copy buttons. The panel's buttons share one
// click listener. A failed check links here with a byte to mark (deeplink.js): the raw
// and hex views put a caret on it and scroll to it.
import { gettext, interpolate, L10N, formatSize, formatMicros } from "./i18n-helpers.js";
import { el, message, copyText } from "./dom.js";
import { api, fetchRaw } from "./api.js";
import { showBody } from "./bodies.js";
import * as bytesView from "./bytes.js";
import { COMPLETE, MISTAKE_TEXT, outcomeText } from "./outcomes.js";
import { showAdvice } from "./advice.js";

// Bytes rendered at first: enough for any head and a page of body. "Load full" renders
// everything the server recorded (bodies are recorded up to its body_cap, 64 KiB).
const DETAIL_PREVIEW = 16 * 1024;

export class ExchangeView {
  // explain: explain.js's explainer() for the glossary terms, or null.
  constructor(panel, rawBase, explain) {
    this.panel = panel;
    this.rawBase = rawBase;
    this.explain = explain || null;
    this.view = "raw";
    this.parts = {};
    for (const name of ["request", "response"]) {
      const box = panel.querySelector("#part-" + name);
      this.parts[name] = {
        box, name, bytes: null, full: false,
        target: box.querySelector(".bytes"),
        size: box.querySelector(".part-size"),
        loadFull: box.querySelector(".load-full"),
      };
    }
    panel.addEventListener("click", (event) => {
      const target = event.target.closest("button");
      if (!target || !panel.contains(target)) return;
      const partBox = target.closest(".part");
      const part = partBox && this.parts[partBox.id.replace("part-", "")];
      if (target.classList.contains("tab")) this.setView(target.dataset.view);
      else if (target.id === "detail-close") this.close();
      else if (part && target.classList.contains("load-full")) { part.full = true; this.render(part); }
      else if (part && target.classList.contains("copy")) this.copy(part);
    });
    this.mark = null; // {side, offset, check}: the byte a failed check points at
  }

  // mark: null, or {side: "request"|"response", offset, check} from a check's failure.
  async show(item, mark = null) {
    this.item = item;
    this.mark = mark;
    this.panel.hidden = false;
    const title = (item.method || gettext("(unparsed request)")) + " " + (item.target || "");
    this.panel.querySelector("#detail-title").textContent = "#" + item.seq + "  " + title;
    this.panel.querySelector("#detail-summary").textContent = describeOutcome(item) + " · " +
      L10N.f(item.index > 0 ? gettext("connection %(conn)s, request %(n)s on it (keep-alive reuse)")
        : gettext("connection %(conn)s, request %(n)s on it"), { conn: item.conn, n: item.index + 1 }) +
      " · " + interpolate(gettext("from %s"), [item.client]) +
      (item.check ? " · " + L10N.f(gettext("sent by check %(label)s"), { label: item.check }) : "");
    this.renderMarkNote();
    this.renderMistake(item);
    this.renderTiming(item.times);
    showAdvice(this.panel, item); // httplint's notes, fetched on their own (advice.js)
    // Both parts are fetched once, here. export.js and composer.js add their buttons
    // (curl, files, re-send) for this item; composer.js re-sends the request bytes from
    // `raw` (a promise per part) instead of downloading them again.
    const raw = {};
    for (const name of Object.keys(this.parts)) raw[name] = this.fetchPart(item, name);
    this.panel.dispatchEvent(new CustomEvent("exchange-shown", { detail: { item, raw } }));
    for (const part of Object.values(this.parts)) {
      part.bytes = null;
      part.bodyView = null;
      part.full = false;
      part.target.textContent = gettext("loading…");
      part.size.textContent = "";
    }
    // With a mark, the caret is scrolled to once the bytes are drawn (render).
    if (!mark) this.panel.scrollIntoView({ behavior: "smooth", block: "start" });
    await Promise.all(Object.values(this.parts).map((part) => this.load(part, item, raw[part.name])));
  }

  // One part's recorded bytes, with how long it really was and whether the server cut it.
  async fetchPart(item, name) {
    const response = await fetchRaw(this.rawBase + item.seq + "/" + name + ".raw", "response");
    const bytes = new Uint8Array(await response.arrayBuffer());
    return {
      bytes,
      fullLength: Number(response.headers.get("X-Full-Length") || bytes.length),
      truncated: response.headers.get("X-Truncated") === "true",
    };
  }

  async load(part, item, fetched) {
    try {
      const { bytes, fullLength, truncated } = await fetched;
      if (this.item !== item) return;
      Object.assign(part, { bytes, fullLength, truncated });
      this.render(part);
    } catch (err) {
      if (this.item === item) {
        part.target.textContent = interpolate(gettext("Could not load the bytes: %s"), [err.message]);
      }
    }
  }

  setView(view) {
    this.view = view;
    for (const tab of this.panel.querySelectorAll(".tab")) {
      tab.setAttribute("aria-selected", String(tab.dataset.view === view));
    }
    for (const part of Object.values(this.parts)) if (part.bytes) this.render(part);
  }

  // The offset to mark in this part, or -1.
  markIn(part) {
    return this.mark && this.mark.side === part.name ? this.mark.offset : -1;
  }

  render(part) {
    const bytes = part.bytes;
    const at = this.markIn(part);
    if (at >= DETAIL_PREVIEW && at < bytes.length) part.full = true; // the caret is shown
    const shown = part.full ? bytes : bytes.subarray(0, DETAIL_PREVIEW);
    let size = formatSize(part.fullLength);
    if (part.truncated) size += " " + interpolate(gettext("(the server recorded the first %s)"), [formatSize(bytes.length)]);
    if (shown.length < bytes.length) size += " · " + interpolate(gettext("showing the first %s"), [formatSize(shown.length)]);
    if (at >= 0 && at < bytes.length) {
      size += " · " + L10N.f(gettext("▲ byte %(offset)s, marked by check %(check)s"),
                             { offset: at, check: this.mark.check || "?" });
    }
    part.size.textContent = size;
    part.loadFull.hidden = shown.length >= bytes.length;
    part.target.textContent = "";
    part.target.className = "bytes view-" + this.view;
    if (this.view === "raw") {
      bytesView.renderText(part.target, shown, at);
      if (this.explain) this.explain.decorateRaw(part.target, part.name);
    }
    else if (this.view === "hex") bytesView.renderHex(part.target, shown, at);
    else this.renderDecoded(part, bytes);
    const caret = part.target.querySelector(".marked-byte");
    if (caret) caret.scrollIntoView({ block: "center" });
    if (at >= 0) this.renderMarkNote(part);
  }

  // What the caret is: the check, the byte, and where to see it. `part`, once its bytes
  // are here, says whether the byte is past what was recorded.
  renderMarkNote(part) {
    const box = this.panel.querySelector("#detail-mark");
    if (!box) return;
    box.hidden = !this.mark;
    if (!this.mark) return;
    const what = { check: this.mark.check || "?", offset: this.mark.offset };
    let text = this.mark.side === "request"
      ? L10N.f(gettext("Check %(check)s points at byte %(offset)s of the request (counted from 0): the caret in the Raw and Hex views."), what)
      : L10N.f(gettext("Check %(check)s points at byte %(offset)s of the response (counted from 0): the caret in the Raw and Hex views."), what);
    if (part && part.bytes && this.mark.offset >= part.bytes.length) {
      text += " " + L10N.f(gettext("That byte is past the %(size)s recorded: the caret is not shown."),
                           { size: formatSize(part.bytes.length) });
    }
    box.textContent = text;
  }

  renderDecoded(part, bytes) {
    const { head, body, interim, complete } = bytesView.split(bytes);
    const box = part.target;
    if (!bytes.length) {
      box.append(el("p", "muted", part.name === "response" ? gettext("Nothing was sent.") : gettext("Nothing was received.")));
      return;
    }
    for (const line of interim) box.append(el("p", "muted", interpolate(gettext("interim response: %s"), [line])));
    const startLine = el("p", "start-line");
    bytesView.renderText(startLine, bytesView.latin1Bytes(bytesView.headLines(head)[0]));
    box.append(startLine);
    const table = el("table", "headers");
    const headers = bytesView.headers(head);
    for (const [name, value] of headers) {
      const tr = el("tr");
      const td = el("td");
      bytesView.renderText(td, bytesView.latin1Bytes(value)); // UTF-8, as the raw view: é, not Ã©
      tr.append(el("th", "", name), td);
      table.append(tr);
    }
    box.append(table);
    if (this.explain) this.explain.decorateDecoded(startLine, table, part.name);
    if (!complete) {
      box.append(el("p", "muted", gettext("The head never ended (no empty line): the exchange was cut short.")));
      return;
    }
    if (!body.length) {
      box.append(el("p", "muted", gettext("No body.")));
      return;
    }
    // The body's views come from the server (bodies.js), fetched once per part.
    part.bodyView = part.bodyView || api("GET", this.rawBase + this.item.seq + "/" + part.name + ".body");
    showBody(box, part.bodyView, body, bytesView.header(headers, "content-type"));
  }

  // The capture relay's `mistake`: its label, the glossary's explanation in the page's
  // language and the RFC section, above the timing.
  renderMistake(item) {
    const box = this.panel.querySelector("#detail-mistake");
    if (!box) return;
    box.textContent = "";
    box.hidden = !item.mistake;
    if (!item.mistake) return;
    box.dataset.mistake = item.mistake;
    box.append(el("strong", "mistake-name", interpolate(gettext("Your server's mistake: %s"),
                                                        [MISTAKE_TEXT[item.mistake] || item.mistake])));
    if (this.explain) this.explain.describeMistake(box, item.mistake);
  }

  renderTiming(times) {
    const box = this.panel.querySelector("#timing");
    box.textContent = "";
    const t = times || {};
    const stages = [
      [gettext("receiving the head"), t.first_byte, t.head_complete],
      [gettext("receiving the body"), t.head_complete, t.request_complete],
      [gettext("server working"), t.request_complete, t.response_start],
      [gettext("writing the response"), t.response_start, t.response_end],
    ];
    const total = t.response_end != null && t.first_byte != null ? t.response_end - t.first_byte : null;
    const scale = Math.max(1, ...stages.map(([, a, b]) => (a != null && b != null ? b - a : 0)));
    const list = el("dl", "timing-list");
    for (const [label, a, b] of stages) {
      const row = el("div", "timing-row");
      const value = a != null && b != null ? formatMicros(b - a) : gettext("did not happen");
      const bar = el("span", "bar");
      bar.style.width = a != null && b != null ? Math.max(1, ((b - a) / scale) * 100) + "%" : "0";
      const dd = el("dd");
      dd.append(bar, document.createTextNode(" " + value));
      row.append(el("dt", "", label), dd);
      list.append(row);
    }
    box.append(list);
    const foot = [];
    if (total != null) foot.push(interpolate(gettext("first byte to last byte: %s"), [formatMicros(total)]));
    if (t.accepted != null && t.first_byte != null) {
      foot.push(interpolate(gettext("connection accepted %s before this request began"),
                            [formatMicros(t.first_byte - t.accepted)]));
    }
    box.append(el("p", "muted", foot.join(" · ") || gettext("no timings recorded")));
  }

  // The exact bytes as text: CR and LF as themselves, not their marks. A byte that is
  // not UTF-8 cannot be put in the clipboard's text: it is copied as \xNN and said so.
  async copy(part) {
    if (!part.bytes) return;
    const [text, escaped] = this.view === "hex" ? [bytesView.hexDump(part.bytes), 0]
      : bytesView.escapedText(part.bytes);
    try {
      await copyText(text);
      const copied = {
        request: this.view === "hex" ? gettext("Copied the request hex dump.") : gettext("Copied the request."),
        response: this.view === "hex" ? gettext("Copied the response hex dump.") : gettext("Copied the response."),
      };
      message(copied[part.name] + (escaped ? " " + L10N.f(gettext("%(count)s bytes are not UTF-8: copied as \\xNN (server_recv.txt and server_send.txt hold them exactly)."),
                                                          { count: escaped }) : ""), "ok");
    } catch (err) {
      message(interpolate(gettext("Could not copy: %s"), [err.message]), "error");
    }
  }

  close() {
    this.panel.hidden = true;
    this.item = null;
    this.mark = null;
  }
}

export function describeOutcome(item) {
  const parts = [];
  if (item.status != null) parts.push(interpolate(gettext("status %s"), [item.status]));
  if (item.outcome !== COMPLETE) parts.push(outcomeText(item));
  if (item.mistake) parts.push(MISTAKE_TEXT[item.mistake] || item.mistake);
  if (item.reason) parts.push(item.reason);
  return parts.join(" · ") || gettext("no status");
}
