// What only the capture relay sends (a learner's own server behind it, docs/relay.md),
// and henaserver's responses that stream (progress.js, in the same rows):
// - requests still waiting for their answer (`exchange.waiting` events, pushed live and
//   never stored): a row each under the list, ticking "no response yet (N s)" until the
//   exchange that ends it arrives (answered, or the relay's own 504 `never_answered`)
//   or an `answered` message names it (its exchange was stored but not pushed here);
//   on connect the playground sends the whole set still open (`replace`);
// - `stream` records, bytes that belong to no exchange, read from the streams API and
//   shown raw (CR and LF visible) under the list.
// Everything captured goes in through textContent.
import { gettext, L10N, formatSize } from "./i18n-helpers.js";
import { el } from "./dom.js";
import { api } from "./api.js";
import * as bytesView from "./bytes.js";
import { grow, progressText } from "./progress.js";
import { connLabel } from "./connections.js";

const key = (conn, index) => conn + "." + index;

export class Waiting {
  constructor(tbody) {
    this.tbody = tbody; // a tbody of its own, after the list's
    this.columns = tbody.closest("table").querySelectorAll("thead th").length;
    this.rows = new Map(); // "conn.index" -> {tr, item, cell}
    setInterval(() => this.tick(), 1000);
  }

  // Items from the ingest writer (messages.waiting_item); `replace`: they are the whole
  // set still waiting (sent on connect), so rows whose end this page missed go.
  add(items, replace = false) {
    if (replace) {
      const open = new Set(items.map((item) => key(item.conn, item.index)));
      for (const [k, row] of this.rows) {
        if (!open.has(k)) { row.tr.remove(); this.rows.delete(k); }
      }
    }
    for (const item of items) {
      if (item.conn == null || item.index == null) continue;
      const k = key(item.conn, item.index);
      if (this.rows.has(k)) { if (item.sent != null) grow(this.rows.get(k), item); continue; }
      const tr = el("tr", "waiting-row");
      tr.dataset.waiting = k;
      const cell = el("td", "status waiting-for");
      const since = item.since_us != null ? item.since_us : Date.now() * 1000;
      tr.append(el("td", "seq", "…"),
                el("td", "time", L10N.time(new Date(since / 1000))),
                el("td", "conn", connLabel(item.conn, item.index)),
                el("td", "method", item.method || "?"),
                el("td", "path", item.target == null ? gettext("(unparsed)") : item.target),
                cell);
      for (let i = 6; i < this.columns; i++) tr.append(el("td", "num", "—"));
      this.tbody.append(tr);
      this.rows.set(k, { tr, item, cell, since });
      if (item.sent != null) grow(this.rows.get(k), item); // henaserver: a rule's stream
    }
    this.tick();
  }

  // An exchange arrived, or an `answered` message: the row waiting for it (same
  // connection and index) goes.
  answered(items) {
    for (const item of items) {
      const k = key(item.conn, item.index);
      const row = this.rows.get(k);
      if (row) { row.tr.remove(); this.rows.delete(k); }
    }
  }

  clear() {
    for (const row of this.rows.values()) row.tr.remove();
    this.rows.clear();
  }

  tick() {
    const now = Date.now() * 1000;
    for (const [k, row] of this.rows) {
      const seconds = Math.max(0, Math.floor((now - row.since) / 1e6));
      // The relay answers 504 at its timeout; a row left far past it lost its end
      // (the relay stopped): it goes rather than tick for ever.
      const limit = row.item.timeout_ms == null ? null : row.item.timeout_ms / 1000;
      if (limit != null && seconds > limit + 30) { row.tr.remove(); this.rows.delete(k); continue; }
      if (row.view) { row.label.textContent = progressText(row, seconds); continue; }
      row.cell.textContent = L10N.f(gettext("no response yet (%(s)s s)"), { s: seconds });
      if (limit != null) {
        row.cell.title = L10N.f(gettext("the relay answers 504 for your server after %(s)s s"), { s: limit });
      }
    }
  }
}

export class Streams {
  constructor(panel, url) {
    this.panel = panel;
    this.url = url;
    this.list = panel.querySelector(".streams-list");
    this.loading = null;
    this.again = false;
    this.load();
  }

  // Read the stored records again (one request at a time, once more if asked meanwhile).
  load() {
    if (this.loading) { this.again = true; return; }
    this.loading = api("GET", this.url).then((data) => this.show(data.streams))
      .catch(() => { /* shown again at the next record */ })
      .finally(() => {
        this.loading = null;
        if (this.again) { this.again = false; this.load(); }
      });
  }

  show(records) {
    this.panel.hidden = !records.length;
    this.list.textContent = "";
    for (const r of records) {
      const item = el("li", "stream-record");
      item.dataset.direction = r.direction;
      const arrow = r.direction === "to_client" ? gettext("server → browser") : gettext("browser → server");
      let size = formatSize(r.length);
      if (r.truncated) size += " " + L10N.f(gettext("(the relay recorded the first %(size)s)"), { size: formatSize(r.recorded) });
      item.append(el("p", "stream-head", L10N.f(gettext("connection %(conn)s, %(arrow)s, %(size)s, at %(time)s"),
        { conn: r.conn, arrow, size, time: L10N.time(new Date(r.time_us / 1000)) })));
      if (r.reason) item.append(el("p", "muted stream-reason", r.reason));
      const bytes = bytesView.fromBase64(r.preview_b64);
      const box = el("div", "bytes view-raw");
      bytesView.renderText(box, bytes);
      item.append(box);
      this.list.append(item);
    }
  }
}
