// "One request to everyone" on the class board (parts/broadcast.html; docs/api.md,
// "One request to everyone"): the composer's presets, a raw editor, Send, "12 of 30
// answered" as the answers stream in, and each answer beside henaserver's with the bytes
// that differ marked. Captured bytes are hostile input: they go in through bytes.js
// (textContent only).
import { gettext, L10N } from "./i18n-helpers.js";
import { $, button, el, message } from "./dom.js";
import { api, apiResponse } from "./api.js";
import { fromBase64, toBase64 } from "./bytes.js";
import { sideBySide } from "./diff-bytes.js";

function verdict(result) {
  if (result.error) return ["failed", result.error];
  if (!result.diff) return ["failed", result.reference.error || gettext("no reference")];
  if (result.diff.same) return ["same", gettext("the same bytes as henaserver")];
  if (result.diff.same_apart_from_expected) {
    return ["same", gettext("the same as henaserver, apart from the date and similar")];
  }
  return ["differs", gettext("differs from henaserver")];
}

function answerCard(result) {
  const card = el("article", "answer");
  card.dataset.student = result.student.username;
  const head = el("div", "answer-head");
  head.append(el("strong", null, result.student.name),
              el("span", "muted", result.sandbox.name + " · " + result.sandbox.mode));
  const [kind, text] = verdict(result);
  head.append(el("span", "verdict " + kind, text));
  if (result.seq != null) {
    const link = el("a", null, gettext("in their traffic"));
    link.href = `/sandboxes/${result.sandbox.id}/traffic/?exchange=${result.seq}`;
    head.append(link);
  }
  card.append(head);
  if (result.outcome) card.append(el("p", "muted", result.outcome));
  card.append(sideBySide({ title: gettext("Their server"), bytes: fromBase64(result.response_b64) },
                         { title: gettext("henaserver (full mode)"),
                           bytes: fromBase64(result.reference.response_b64 || "") },
                         result.diff, gettext("differs from henaserver")));
  return card;
}

// The answer arrives as JSON lines (start, answer..., done): read them as they come.
async function* lines(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      yield JSON.parse(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
    }
  }
}

function init(box) {
  const url = box.dataset.url;
  const text = $("broadcast-text");
  const progress = $("broadcast-progress");
  const results = $("broadcast-results");
  const sendButton = $("broadcast-send");

  const showRunning = (n) => {
    $("broadcast-running").textContent = L10N.f(gettext("running sandboxes: %(n)s"), { n });
  };

  api("GET", url).then((data) => {
    showRunning(data.running);
    const bar = $("broadcast-presets");
    for (const preset of data.presets) {
      const b = button(preset.label, "btn small", { preset: preset.id });
      b.addEventListener("click", () => {
        text.value = preset.text;
        $("broadcast-endings").value = preset.line_endings;
        $("broadcast-pieces").value = preset.pieces;
        $("broadcast-delay").value = preset.delay_ms;
        $("broadcast-explain").textContent = preset.explain;
      });
      bar.append(b);
    }
    if (!text.value && data.presets.length) bar.querySelector("button").click();
  }).catch((err) => message(err.message, "error"));

  async function send() {
    sendButton.disabled = true; // one broadcast at a time (the server says 409 too)
    results.textContent = "";
    progress.textContent = gettext("Sending…");
    let total = 0;
    let done = 0;
    try {
      const response = await apiResponse("POST", url, {
        request_b64: toBase64(new TextEncoder().encode(text.value)),
        line_endings: $("broadcast-endings").value,
        pieces: Number($("broadcast-pieces").value) || 1,
        delay_ms: Number($("broadcast-delay").value) || 0,
      }, { accept: "application/x-ndjson" });
      for await (const line of lines(response)) {
        if (line.type === "start") total = line.total;
        if (line.type === "answer") {
          done += 1;
          results.append(answerCard(line));
        }
        progress.textContent = L10N.f(gettext("%(done)s of %(total)s answered"), { done, total });
        if (line.type === "done") showRunning(line.total);
      }
    } catch (err) {
      progress.textContent = "";
      message(err.message, "error");
    } finally {
      sendButton.disabled = false;
    }
  }
  sendButton.addEventListener("click", send);
}

const box = $("broadcast");
if (box) init(box);
