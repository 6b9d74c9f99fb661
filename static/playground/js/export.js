// Exports: the filtered list of this run, a chosen run or all runs as HAR or a raw dump
// (the filter box's text goes to the server, which applies the same grammar as
// filters.js; ?run= says which runs, docs/api.md), and one exchange as the
// tutorial's files or as a curl command.
import { gettext, interpolate } from "./i18n-helpers.js";
import { $, el, button, message, copyText } from "./dom.js";
import { fetchRaw } from "./api.js";

// links: #export-links (its data-* hold the export URLs); filter: the filter box;
// runChoice: which runs to export (this run, a chosen one, all: runs.js fills it);
// detail: the exchange detail panel; rawBase: the exchanges API URL.
export function initExports(links, filter, runChoice, detail, rawBase) {
  function update() {
    let q = "?run=" + encodeURIComponent(runChoice.value || "current");
    if (filter.value.trim()) q += "&filter=" + encodeURIComponent(filter.value);
    $("export-har").href = links.dataset.harUrl + q;
    $("export-raw").href = links.dataset.rawUrl + q;
  }
  filter.addEventListener("input", update);
  runChoice.addEventListener("change", update);
  // runs.js refills the choice when a run starts: the links follow.
  new MutationObserver(update).observe(runChoice, { childList: true });
  update();

  const actions = $("detail-actions");
  let base = null; // the exchange in the detail panel: its API URL
  detail.addEventListener("exchange-shown", (event) => {
    base = rawBase + event.detail.item.seq + "/";
    for (const old of actions.querySelectorAll(".export")) old.remove();
    actions.append(button(gettext("Copy as curl"), "btn small export", { export: "curl" }));
    for (const [name, title] of [["server_recv.txt", gettext("the request, as the tutorial's server saved it")],
                                 ["server_send.txt", gettext("the response, as the tutorial's server sent it")]]) {
      const a = el("a", "btn small export", name);
      a.href = base + name;
      a.download = name;
      a.title = title;
      actions.append(a);
    }
  });
  actions.addEventListener("click", async (event) => {
    if (!base || !event.target.closest("button[data-export=curl]")) return;
    try {
      await copyText(await fetchRaw(base + "export/curl", "text"));
      message(gettext("Copied the curl command."), "ok");
    } catch (err) { message(interpolate(gettext("Could not copy: %s"), [err.message]), "error"); }
  });
}
