// One exchange summary as a row of the traffic list (traffic.js draws them). Everything
// captured goes in through textContent.
import { gettext, L10N, formatSize, formatMicros } from "./i18n-helpers.js";
import { el } from "./dom.js";
import { COMPLETE, MISTAKE_TEXT, outcomeText } from "./outcomes.js";
import { connLabel } from "./connections.js";
import { adviceBadge } from "./advice.js";

// Local time of day with milliseconds, in the page's language. L10N keeps one
// Intl formatter: toLocaleTimeString builds one per call, which under a flood cost
// more than drawing the rows.
const timeOf = (us) => L10N.time(new Date(us / 1000));

export const itemOf = new WeakMap(); // <tr> -> its exchange summary

export function row(item) {
  const tr = el("tr", "outcome-" + item.outcome);
  tr.dataset.seq = item.seq;
  if (item.status >= 400) tr.classList.add("bad-status");
  if (item.index > 0) tr.classList.add("reused");
  const conn = el("td", "conn", (item.index > 0 ? "↺ " : "") + connLabel(item.conn, item.index));
  conn.title = item.index > 0
    ? L10N.f(gettext("request %(n)s on connection %(conn)s (keep-alive reuse)"), { n: item.index + 1, conn: item.conn })
    : L10N.f(gettext("first request on connection %(conn)s"), { conn: item.conn });
  const status = el("td", "status");
  status.append(el("span", "code", item.status == null ? "—" : String(item.status)));
  if (item.outcome !== COMPLETE) {
    const tag = el("span", "outcome-tag", outcomeText(item));
    if (item.reason) tag.title = item.reason;
    status.append(tag);
  }
  if (item.mistake) {
    // The capture relay named what the learner's server did wrong.
    tr.classList.add("has-mistake");
    const tag = el("span", "mistake-tag", MISTAKE_TEXT[item.mistake] || item.mistake);
    tag.dataset.mistake = item.mistake;
    tag.title = gettext("what your server did wrong (open the row for why)");
    status.append(tag);
  }
  adviceBadge(status, item); // httplint's notes on the exchange (advice.js)
  const path = el("td", "path", item.target == null ? gettext("(unparsed)") : item.target);
  if (item.target != null) path.title = item.target; // one line in the list: the whole path on hover
  if (item.check) {
    // Sent by "Check my server" (checks.js): which check, so its bytes are easy to find.
    tr.dataset.check = item.check;
    const tag = el("span", "check-tag", L10N.f(gettext("check %(label)s"), { label: item.check }));
    tag.title = gettext("sent by Check my server (the sandbox page), not by a browser");
    path.prepend(tag, " ");
  }
  if (item.sent_by === "teacher") {
    // Sent by the learner's teacher to the whole class (the class board's broadcast).
    tr.dataset.sentBy = item.sent_by;
    const tag = el("span", "teacher-tag", gettext("sent by your teacher"));
    tag.title = gettext("your teacher sent this request to every running sandbox of the class");
    path.prepend(tag, " ");
  }
  const size = el("td", "num", formatSize(item.response_length));
  size.title = L10N.f(gettext("request %(req)s B, response %(resp)s B"),
                      { req: item.request_length, resp: item.response_length });
  tr.append(
    el("td", "seq", String(item.seq)),
    el("td", "time", timeOf(item.started_us)),
    conn,
    el("td", "method", item.method || "?"),
    path,
    status,
    size,
    el("td", "num", item.duration_us == null ? "—" : formatMicros(item.duration_us)),
  );
  itemOf.set(tr, item);
  return tr;
}
