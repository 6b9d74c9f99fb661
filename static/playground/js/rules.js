// Response rules: rows of (method, path, raw response), presets, saved to the server,
// which writes rules.json; the running sandbox uses them for its next request.
"use strict";

(function () {
  const panel = document.getElementById("rules-panel");
  if (!panel) return;
  const data = JSON.parse(document.getElementById("modes-data").textContent);
  const $ = PG.$;
  const rows = $("rule-rows");

  function addRow(rule) {
    const row = PG.el("div", "rule-row");
    const method = PG.el("input", "rule-method");
    method.value = rule.method || "GET";
    method.setAttribute("aria-label", gettext("method"));
    method.size = 7;
    const path = PG.el("input", "rule-path");
    path.value = rule.path || "/";
    path.setAttribute("aria-label", gettext("path"));
    const response = PG.el("textarea", "raw-input rule-response");
    response.rows = 4;
    response.spellcheck = false;
    response.setAttribute("aria-label", gettext("raw response"));
    response.value = rule.response || "HTTP/1.1 200 OK\nContent-Length: 0\n\n";
    const fix = PG.el("button", "btn small", gettext("Fix Content-Length"));
    fix.type = "button";
    fix.addEventListener("click", () => { response.value = PG.modes.fixContentLength(response.value); });
    const remove = PG.el("button", "btn small danger", gettext("Remove"));
    remove.type = "button";
    remove.addEventListener("click", () => row.remove());
    row.append(method, path, fix, remove, response);
    rows.append(row);
  }

  function load(rules) {
    rows.textContent = "";
    for (const rule of rules) addRow(rule);
  }

  for (const [key, preset] of Object.entries(data.rule_presets)) {
    const b = PG.el("button", "btn small", preset.label);
    b.type = "button";
    b.dataset.preset = key;
    b.addEventListener("click", () => { load(preset.rules); $("rule-endings").value = "crlf"; });
    $("rule-presets").append(b);
  }
  $("rule-add").addEventListener("click", () => addRow({}));

  $("rules-save").addEventListener("click", async () => {
    const rules = [...rows.querySelectorAll(".rule-row")].map((row) => ({
      method: row.querySelector(".rule-method").value.trim() || "*",
      path: row.querySelector(".rule-path").value.trim() || "*",
      response: row.querySelector(".rule-response").value,
    }));
    try {
      const r = await PG.api("PUT", panel.dataset.rulesUrl, { rules, line_endings: $("rule-endings").value });
      $("rules-state").textContent = L10N.f(ngettext(
        "%(count)s rule saved: the running server uses it from its next request",
        "%(count)s rules saved: the running server uses them from its next request",
        r.rules.length), { count: r.rules.length });
      PG.message(gettext("Rules saved; no restart needed."), "ok");
    } catch (err) {
      PG.message(interpolate(gettext("Could not save the rules: %s"), [err.message]), "error");
    }
  });

  // Stored rules are shown as text; a rule whose bytes are not UTF-8 stays as stored
  // only if it is not edited (the API keeps response_b64).
  load(data.current.rules.map((r) => ({ ...r, response: r.response == null ? "" : r.response })));
  // A textarea turns CRLF into LF: "send LF as CRLF" gives stored CRLF heads back.
  $("rule-endings").value = "crlf";
})();
