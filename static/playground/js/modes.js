// The sandbox's mode (docs/modes.md): choose one, read what to notice, edit the fixed
// response (presets, line endings, "Fix Content-Length"). Applying restarts the sandbox.
import { gettext, interpolate, L10N } from "./i18n-helpers.js";
import { $, el, button, message } from "./dom.js";
import { api } from "./api.js";
import { headEnd } from "./bytes.js";

// Set Content-Length to the body's real length in UTF-8 bytes (the head's line endings
// may still be LF: the server gets CRLF when "send LF as CRLF" is chosen). The head ends
// where bytes.js headEnd() says, the one rule for every view.
export function fixContentLength(text) {
  const bytes = new TextEncoder().encode(text);
  const [end, bodyStart] = headEnd(bytes);
  if (end < 0) return text;
  const utf8 = new TextDecoder();
  const head = utf8.decode(bytes.subarray(0, end));
  const emptyLine = utf8.decode(bytes.subarray(end, bodyStart));
  const body = utf8.decode(bytes.subarray(bodyStart));
  const eol = head.endsWith("\r\n") ? "\r\n" : "\n";
  const lines = head.replace(/\r?\n$/, "").split(/\r?\n/).filter((l) => !/^content-length\s*:/i.test(l));
  lines.push("Content-Length: " + (bytes.length - bodyStart));
  return lines.join(eol) + eol + emptyLine + body;
}

// The mode panel of the sandbox screen (parts/modes.html), if the page has one.
export function initModes(panel, data) {
  let chosen = data.current.mode;

  function show() {
    const info = data.modes.find((m) => m.id === chosen);
    $("mode-notice").textContent = info ? interpolate(gettext("What to notice: %s"), [info.notice]) : "";
    $("fixed-editor").hidden = chosen !== "fixed";
    for (const input of panel.querySelectorAll("input[name=mode]")) input.checked = input.value === chosen;
  }

  for (const m of data.modes) {
    const label = el("label", "mode-choice");
    const input = el("input");
    input.type = "radio";
    input.name = "mode";
    input.value = m.id;
    label.append(input, " " + m.label);
    $("mode-choices").append(label);
  }
  $("mode-choices").addEventListener("change", (event) => {
    if (event.target.name !== "mode") return;
    chosen = event.target.value;
    show();
  });

  for (const [key, preset] of Object.entries(data.response_presets)) {
    $("fixed-presets").append(button(preset.label, "btn small", { preset: key }));
  }
  $("fixed-presets").addEventListener("click", (event) => {
    const target = event.target.closest("button[data-preset]");
    if (!target) return;
    $("fixed-text").value = data.response_presets[target.dataset.preset].text;
    $("fixed-endings").value = "crlf";
  });

  const current = data.current.fixed_response;
  $("fixed-text").value = current || data.response_presets["it-works"].text;
  // A textarea turns CRLF into LF: "send LF as CRLF" gives a stored CRLF head back.
  $("fixed-endings").value = "crlf";
  $("fixed-length").addEventListener("click", () => {
    $("fixed-text").value = fixContentLength($("fixed-text").value);
  });

  $("mode-apply").addEventListener("click", async () => {
    const body = { mode: chosen };
    if (chosen === "fixed") {
      body.fixed_response = $("fixed-text").value;
      body.line_endings = $("fixed-endings").value;
    }
    $("mode-apply").disabled = true;
    $("mode-state").textContent = gettext("applying…");
    try {
      const r = await api("PUT", panel.dataset.modeUrl, body);
      data.current = r;
      $("mode-state").textContent = L10N.f(r.restarted ? gettext("mode: %(label)s (restarted)")
        : gettext("mode: %(label)s"), { label: r.label });
      message(L10N.f(r.restarted ? gettext("Mode set to “%(label)s”; the sandbox restarted.")
        : gettext("Mode set to “%(label)s”."), { label: r.label }), "ok");
    } catch (err) {
      $("mode-state").textContent = "";
      message(interpolate(gettext("Could not change the mode: %s"), [err.message]), "error");
    } finally {
      $("mode-apply").disabled = false;
    }
  });
  show();
}
