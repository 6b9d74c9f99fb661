// Response rules: rows of (method, path, raw response, how to send it), presets, saved
// to the server, which writes rules.json; the running sandbox uses them for its next
// request. The rows' buttons share one click listener on the rows' container. How to
// send: at once, or over time (henaserver/paced.py): after a delay, dripped a line at a
// time, chunked (a line per chunk, trailers from the Trailer field), or server-sent events.
import { gettext, ngettext, interpolate, L10N } from "./i18n-helpers.js";
import { $, el, button, message } from "./dom.js";
import { api } from "./api.js";
import { fixContentLength } from "./modes.js";

// The rules panel of the sandbox screen (parts/modes.html), if the page has one.
export function initRules(panel, data) {
  const rows = $("rule-rows");

  function addRow(rule) {
    const row = el("div", "rule-row");
    const method = el("input", "rule-method");
    method.value = rule.method || "GET";
    method.setAttribute("aria-label", gettext("method"));
    method.size = 7;
    const path = el("input", "rule-path");
    path.value = rule.path || "/";
    path.setAttribute("aria-label", gettext("path"));
    const response = el("textarea", "raw-input rule-response");
    response.rows = 4;
    response.spellcheck = false;
    response.setAttribute("aria-label", gettext("raw response"));
    response.value = rule.response || "HTTP/1.1 200 OK\nContent-Length: 0\n\n";
    row.append(method, path, button(gettext("Fix Content-Length"), "btn small", { action: "fix" }),
               button(gettext("Remove"), "btn small danger", { action: "remove" }), response,
               paceControls(rule));
    rows.append(row);
  }

  rows.addEventListener("click", (event) => {
    const target = event.target.closest("button[data-action]");
    const row = target && target.closest(".rule-row");
    if (!row) return;
    if (target.dataset.action === "remove") row.remove();
    else {
      const response = row.querySelector(".rule-response");
      response.value = fixContentLength(response.value);
    }
  });

  function load(rules) {
    rows.textContent = "";
    for (const rule of rules) addRow(rule);
  }

  for (const [key, preset] of Object.entries(data.rule_presets)) {
    $("rule-presets").append(button(preset.label, "btn small", { preset: key }));
  }
  $("rule-presets").addEventListener("click", (event) => {
    const target = event.target.closest("button[data-preset]");
    if (!target) return;
    load(data.rule_presets[target.dataset.preset].rules);
    $("rule-endings").value = "crlf";
  });
  $("rule-add").addEventListener("click", () => addRow({}));

  $("rules-save").addEventListener("click", async () => {
    const rules = [...rows.querySelectorAll(".rule-row")].map((row) => ({
      method: row.querySelector(".rule-method").value.trim() || "*",
      path: row.querySelector(".rule-path").value.trim() || "*",
      response: row.querySelector(".rule-response").value,
      send: row.querySelector(".rule-send").value,
      delay_ms: Number(row.querySelector(".rule-delay").value) || 0,
      every_ms: Number(row.querySelector(".rule-every").value) || 0,
    }));
    try {
      const r = await api("PUT", panel.dataset.rulesUrl, { rules, line_endings: $("rule-endings").value });
      $("rules-state").textContent = L10N.f(ngettext(
        "%(count)s rule saved: the running server uses it from its next request",
        "%(count)s rules saved: the running server uses them from its next request",
        r.rules.length), { count: r.rules.length });
      message(gettext("Rules saved; no restart needed."), "ok");
    } catch (err) {
      message(interpolate(gettext("Could not save the rules: %s"), [err.message]), "error");
    }
  });

  // Stored rules are shown as text; a rule whose bytes are not UTF-8 stays as stored
  // only if it is not edited (the API keeps response_b64).
  load(data.current.rules.map((r) => ({ ...r, response: r.response == null ? "" : r.response })));
  // A textarea turns CRLF into LF: "send LF as CRLF" gives stored CRLF heads back.
  $("rule-endings").value = "crlf";
}

const SENDS = () => [
  ["whole", gettext("at once")],
  ["drip", gettext("dripped, a body line at a time")],
  ["chunked", gettext("chunked, a body line per chunk (trailers: the fields named in Trailer)")],
  ["events", gettext("server-sent events, one event at a time")],
];

// A rule's pace: how its response leaves, a delay before it, a pause between pieces.
function paceControls(rule) {
  const box = el("div", "rule-pace");
  const send = el("select", "rule-send");
  for (const [value, label] of SENDS()) {
    const option = el("option", null, label);
    option.value = value;
    send.append(option);
  }
  send.value = rule.send || "whole";
  const number = (cls, value, max) => {
    const input = el("input", cls);
    Object.assign(input, { type: "number", min: 0, max, value: value || 0 });
    return input;
  };
  const labelled = (text, control) => { const l = el("label", null, text + " "); l.append(control); return l; };
  box.append(labelled(gettext("How to send"), send),
             labelled(gettext("after (ms)"), number("rule-delay", rule.delay_ms, 20000)),
             labelled(gettext("then every (ms)"), number("rule-every", rule.every_ms, 5000)));
  return box;
}
