// A response a rule sends over time (henaserver/paced.py: a delay, a drip, chunked,
// server-sent events), shown growing in its "waiting" row (traffic-relay.js) as its
// bytes leave the server. Each `exchange.progress` item (messages.progress_fields)
// says how many bytes are sent and brings the bytes since the previous one, at their
// offset; an item from the connect-time set (`replace`) brings all so far from 0. Only
// the first 16 KiB are shown here (the playground keeps no more live): the exchange,
// once whole, replaces the row and has everything. Bytes go in through textContent
// (bytes.js), CR and LF visible.
import { gettext, L10N, formatSize } from "./i18n-helpers.js";
import { el } from "./dom.js";
import * as bytesView from "./bytes.js";

// `row`: Waiting's {tr, item, cell}. The status cell and the empty cells after it
// become one cell: a line saying how much has been sent, and the bytes so far.
export function grow(row, item) {
  if (!row.view) {
    while (row.cell.nextSibling) row.cell.nextSibling.remove();
    row.cell.colSpan = row.tr.closest("table").querySelectorAll("thead th").length
      - [...row.tr.children].indexOf(row.cell);
    row.label = el("span", "progress-label");
    row.view = el("div", "bytes view-raw progress-bytes");
    row.cell.textContent = "";
    row.cell.append(row.label, row.view);
    row.tr.classList.add("growing");
    row.bytes = new Uint8Array(0);
  }
  const add = bytesView.fromBase64(item.data_b64 || "");
  if (item.offset === 0) row.bytes = add; // all so far (or the first piece)
  else if (item.offset === row.bytes.length) {
    const joined = new Uint8Array(row.bytes.length + add.length);
    joined.set(row.bytes);
    joined.set(add, row.bytes.length);
    row.bytes = joined;
  } // else a piece this page missed: the count still grows, the bytes wait for the end
  row.sent = item.sent;
  row.tr.dataset.sent = item.sent;
  bytesView.renderText(row.view, row.bytes);
  row.label.textContent = progressText(row, Math.max(0, Math.floor((Date.now() * 1000 - row.since) / 1e6)));
}

// The row's line, each second: how much has left, and for how long.
export function progressText(row, seconds) {
  if (!row.sent) return L10N.f(gettext("waiting to answer (%(s)s s)"), { s: seconds });
  return L10N.f(gettext("sending: %(size)s so far (%(s)s s)"),
                { size: formatSize(row.sent), s: seconds });
}
