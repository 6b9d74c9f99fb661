// The comparison page (compare.html, issue 16 point 3): two exchanges named by sandbox
// and number (?a=SANDBOX:SEQ&b=SANDBOX:SEQ, also what diff-pick.js links to), their
// requests and responses side by side, heads with heads and bodies with bodies, the
// bytes that differ marked. The server cuts the messages and finds the differences
// (traffic/compare.py, the class board's byte diff); this module only draws them.
import { gettext, ngettext, L10N, formatSize } from "./i18n-helpers.js";
import { $, el, message, screenReady } from "./dom.js";
import { api } from "./api.js";
import { fromBase64 } from "./bytes.js";
import { renderMarked, spansOf } from "./diff-bytes.js";
import { exchangeLine } from "./outcomes.js";

const SIDES = ["a", "b"];

// "3:12" -> {sandbox: "3", seq: "12"}, or null.
function parsePick(text) {
  const match = /^(\d{1,18}):(\d{1,18})$/.exec(text || "");
  return match ? { sandbox: match[1], seq: match[2] } : null;
}

function fillForm(query) {
  for (const side of SIDES) {
    const pick = parsePick(query.get(side));
    if (!pick) continue;
    $(`compare-${side}-sandbox`).value = pick.sandbox;
    $(`compare-${side}-seq`).value = pick.seq;
  }
}

const pickOf = (side) => $(`compare-${side}-sandbox`).value + ":" + $(`compare-${side}-seq`).value;

// How one part (a head or a body) compares, in a sentence.
function verdict(part) {
  if (part.same) return gettext("the same bytes");
  if (part.same_apart_from_expected) {
    return gettext("the same apart from what every server fills in its own way (Date, ETag, Server…)");
  }
  const n = part.ranges.filter((r) => !r.expected).length;
  return L10N.f(ngettext("%(count)s place differs", "%(count)s places differ", n), { count: n });
}

// One side of a part: its bytes, marked where they differ from the other side.
function column(label, bytes, length, ranges) {
  const box = el("div", "compare-col");
  box.append(el("h4", null, label + " · " + formatSize(length)));
  const pre = el("pre", "raw bytes");
  if (bytes.length) renderMarked(pre, bytes, ranges, gettext("differs from the other side"));
  else pre.append(el("span", "muted", gettext("(empty)")));
  box.append(pre);
  return box;
}

function partView(title, key, part) {
  const box = el("div", "compare-part");
  box.dataset.part = key;
  box.dataset.same = String(part.same);
  const head = el("h3", null, title + ": ");
  head.append(el("span", "compare-part-verdict", verdict(part)));
  box.append(head);
  const [a, b] = [fromBase64(part.a_b64), fromBase64(part.b_b64)];
  // The server sends each side up to the bytes it compared: the longer one shows where
  // that ended (the shorter side may be whole).
  if (part.truncated) {
    box.append(el("p", "muted", L10N.f(gettext("Only the first %(size)s of each side were compared."),
                                       { size: formatSize(Math.max(a.length, b.length)) })));
  }
  const cols = el("div", "compare-cols");
  cols.append(column("A", a, part.a_length, spansOf(part.ranges, "a")),
              column("B", b, part.b_length, spansOf(part.ranges, "b")));
  box.append(cols);
  return box;
}

// "A: #12 GET /style.css → 200, sandbox “mine”, run 2", with a link to it.
function whichOne(side, about) {
  const item = about.summary;
  const p = el("p", "compare-which");
  p.dataset.side = side;
  p.append(el("strong", null, side.toUpperCase() + ": "), el("span", "compare-what", exchangeLine(item)), " · ",
           L10N.f(gettext("sandbox “%(name)s”, run %(run)s"), { name: about.name, run: item.run }), " ");
  const link = el("a", null, gettext("open in its traffic"));
  link.href = about.traffic;
  p.append(link);
  return p;
}

function show(data) {
  const result = $("compare-result");
  result.textContent = "";
  const heads = el("section", "panel compare-heads");
  heads.append(whichOne("a", data.a), whichOne("b", data.b));
  result.append(heads);
  for (const [key, title] of [["response", gettext("Response")], ["request", gettext("Request")]]) {
    const section = el("section", "panel compare-message");
    section.id = "compare-" + key;
    section.append(el("h2", null, title),
                   partView(gettext("Head"), "head", data[key].head),
                   partView(gettext("Body"), "body", data[key].body));
    result.append(section);
  }
  result.hidden = false;
  const same = ["request", "response"].every((k) => data[k].head.same && data[k].body.same);
  $("compare-verdict").textContent = same ? gettext("The two exchanges are byte for byte the same.")
    : gettext("The bytes that differ are marked.");
}

async function compare() {
  const query = new URLSearchParams({ a: pickOf("a"), b: pickOf("b") });
  history.replaceState(null, "", "?" + query);
  $("compare-verdict").textContent = gettext("loading…");
  try {
    show(await api("GET", $("compare").dataset.apiUrl + "?" + query));
  } catch (err) {
    $("compare-verdict").textContent = "";
    $("compare-result").hidden = true;
    message(err.message, "error");
  }
}

$("compare-form").addEventListener("submit", (event) => {
  event.preventDefault();
  compare();
});
$("compare-swap").addEventListener("click", () => {
  const [a, b] = [pickOf("a"), pickOf("b")];
  fillForm(new URLSearchParams({ a: b, b: a }));
  if ($("compare-a-seq").value && $("compare-b-seq").value) compare();
});

const query = new URLSearchParams(location.search);
fillForm(query);
if (parsePick(query.get("a")) && parsePick(query.get("b"))) compare();
screenReady();
