// "Send to several of your sandboxes and compare" in the composer (parts/composer.html;
// docs/api.md, "Composer"): the composer's request goes to this sandbox and each one
// ticked, at once (POST /api/compose/several/), and every answer is shown beside this
// sandbox's with the bytes that differ marked (the class board's diff, classes/diff.py,
// drawn by diff-bytes.js). Captured bytes are hostile input: textContent only.
import { gettext, L10N } from "./i18n-helpers.js";
import { $, el, message } from "./dom.js";
import { api } from "./api.js";
import { fromBase64, toBase64, latin1 } from "./bytes.js";
import { sideBySide } from "./diff-bytes.js";

function statusLine(bytes) {
  const end = bytes.indexOf(0x0a);
  return latin1(bytes.subarray(0, end < 0 ? Math.min(bytes.length, 80) : end)).trim();
}

function verdict(answer) {
  if (answer.error) return ["failed", answer.error];
  if (!answer.diff) return ["failed", gettext("nothing to compare with")];
  if (answer.diff.same) return ["same", gettext("the same bytes as the first answer")];
  if (answer.diff.same_apart_from_expected) {
    return ["same", gettext("the same as the first answer, apart from the date and similar")];
  }
  return ["differs", gettext("differs from the first answer")];
}

// One answer's card; from the second on, beside the first answer with the diff marked.
function answerCard(answer, first) {
  const card = el("article", "answer");
  card.dataset.sandbox = String(answer.sandbox.id);
  const head = el("div", "answer-head");
  head.append(el("strong", null, answer.sandbox.name), el("span", "muted", ":" + answer.sandbox.port));
  const bytes = fromBase64(answer.response_b64 || "");
  if (!answer.error) head.append(el("code", "status-line", statusLine(bytes) || gettext("no bytes came back")));
  if (first !== answer) {
    const [kind, text] = verdict(answer);
    head.append(el("span", "verdict " + kind, text));
  } else if (answer.error) {
    head.append(el("span", "verdict failed", answer.error));
  }
  card.append(head);
  if (first === answer || answer.error) return card;
  card.append(sideBySide({ title: answer.sandbox.name, bytes },
                         { title: first.sandbox.name, bytes: fromBase64(first.response_b64 || "") },
                         answer.diff, gettext("differs from the first answer")));
  return card;
}

// `plan()` gives the composer's request: {bytes, endings, pieces, delayMs}.
export function initSeveral(box, plan) {
  const details = $("composer-several");
  const list = $("composer-several-list");
  const state = $("composer-several-state");
  const results = $("composer-several-results");
  const here = Number(box.dataset.sandboxId);
  const legend = list.querySelector("legend");

  async function loadChoices() {
    const { sandboxes } = await api("GET", box.dataset.sandboxesUrl);
    list.replaceChildren(legend); // each opening lists them again (and says "no other" once)
    for (const sb of sandboxes) {
      if (sb.id === here) continue;
      const label = el("label", "several-choice");
      const tick = el("input");
      tick.type = "checkbox";
      tick.value = String(sb.id);
      tick.disabled = sb.status !== "running";
      const kind = sb.kind === "program" ? gettext("your program") : sb.mode;
      label.append(tick, " " + sb.name + " :" + sb.port + " · " + kind + (tick.disabled ? " · " + gettext("not running") : ""));
      list.append(label);
    }
    if (sandboxes.length < 2) list.append(el("p", "muted", gettext("You have no other sandbox yet: create one on the home page.")));
  }
  details.addEventListener("toggle", () => {
    if (details.open) loadChoices().catch((err) => message(err.message, "error"));
  });

  $("composer-several-send").addEventListener("click", async (event) => {
    const ticked = [...list.querySelectorAll("input:checked")].map((tick) => Number(tick.value));
    if (!ticked.length) {
      state.textContent = gettext("Tick at least one other sandbox.");
      return;
    }
    const p = plan();
    event.target.disabled = true;
    state.textContent = gettext("sending…");
    results.textContent = "";
    try {
      const r = await api("POST", box.dataset.severalUrl, {
        sandboxes: [here, ...ticked], request_b64: toBase64(p.bytes), line_endings: p.endings,
        pieces: p.pieces, delay_ms: p.delayMs,
      });
      const [first] = r.answers;
      for (const answer of r.answers) results.append(answerCard(answer, first));
      state.textContent = L10N.f(gettext("%(count)s answers, each compared with this sandbox's"), { count: r.answers.length });
    } catch (err) {
      state.textContent = "";
      message(err.message, "error");
    } finally {
      event.target.disabled = false;
    }
  });
}
