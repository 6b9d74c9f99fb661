// The traffic page opened on one exchange: ?exchange=SEQ, with &mark=SIDE:OFFSET and
// &check=LABEL when a failed check's "Show the byte" link (checks.js) sent the learner
// here. The exchange is fetched by its seq from the API, so it opens even when the list
// does not hold it (filtered, or beyond the rows drawn).
import { gettext, L10N } from "./i18n-helpers.js";
import { message } from "./dom.js";
import { api } from "./api.js";

const SIDES = new Set(["request", "response"]);

// {seq, mark} from a query string, or null; a mark that does not parse is left out
// (the exchange still opens).
export function linkFrom(search) {
  const query = new URLSearchParams(search);
  const seq = Number(query.get("exchange"));
  if (!Number.isSafeInteger(seq) || seq < 1) return null;
  const [side, offsetText] = (query.get("mark") || "").split(":");
  const offset = Number(offsetText);
  const mark = SIDES.has(side) && offsetText && Number.isSafeInteger(offset) && offset >= 0
    ? { side, offset, check: query.get("check") || "" } : null;
  return { seq, mark };
}

// Open the linked exchange in `detail` (exchange.js), and select its row once drawn.
export async function openLinked(detail, exchangesUrl, tbody) {
  const link = linkFrom(window.location.search);
  if (!link) return;
  try {
    const page = await api("GET", exchangesUrl + "?run=all&limit=1&after=" + (link.seq - 1));
    const item = page.exchanges[0];
    if (!item || item.seq !== link.seq) {
      message(L10N.f(gettext("Exchange #%(seq)s is no longer stored: the oldest are removed first."),
                     { seq: String(link.seq) }), "error");
      return;
    }
    const row = tbody.querySelector(`tr[data-seq="${item.seq}"]`);
    if (row) row.classList.add("selected");
    await detail.show(item, link.mark);
  } catch (err) {
    message(L10N.f(gettext("Could not open exchange #%(seq)s: %(error)s"),
                   { seq: String(link.seq), error: err.message }), "error");
  }
}
