// Exports: the filtered list as HAR or a raw dump (the filter box's text goes to the
// server, which applies the same grammar: playground/filters.py), and one exchange as
// the tutorial's files or as a curl command.
"use strict";

(function () {
  const links = document.getElementById("export-links");
  if (!links) return;
  const filter = document.getElementById("filter");
  function update() {
    const q = filter.value.trim() ? "?filter=" + encodeURIComponent(filter.value) : "";
    document.getElementById("export-har").href = links.dataset.harUrl + q;
    document.getElementById("export-raw").href = links.dataset.rawUrl + q;
  }
  filter.addEventListener("input", update);
  update();

  const rawBase = document.getElementById("traffic").dataset.exchangesUrl;
  document.getElementById("detail").addEventListener("exchange-shown", (event) => {
    const { item } = event.detail;
    const actions = document.getElementById("detail-actions");
    for (const old of actions.querySelectorAll(".export")) old.remove();
    const base = rawBase + item.seq + "/";
    const curl = PG.el("button", "btn small export", gettext("Copy as curl"));
    curl.type = "button";
    curl.addEventListener("click", async () => {
      try {
        await PG.copyText(await PG.fetchRaw(base + "export/curl", "text"));
        PG.message(gettext("Copied the curl command."), "ok");
      } catch (err) { PG.message(interpolate(gettext("Could not copy: %s"), [err.message]), "error"); }
    });
    actions.append(curl);
    for (const [name, title] of [["server_recv.txt", gettext("the request, as the tutorial's server saved it")],
                                 ["server_send.txt", gettext("the response, as the tutorial's server sent it")]]) {
      const a = PG.el("a", "btn small export", name);
      a.href = base + name;
      a.download = name;
      a.title = title;
      actions.append(a);
    }
  });
})();
