// Sandbox page: its card (status, buttons) kept fresh by polling, plus the files panel.
"use strict";

(function () {
  const holder = document.getElementById("sandbox-card");
  const url = holder.dataset.sandboxUrl;
  const initial = JSON.parse(document.getElementById("initial-data").textContent);
  const card = new PG.Card(initial, {
    showFiles: false,
    onDeleted: () => { window.location.href = holder.dataset.homeUrl; },
  });
  holder.append(card.root);

  PG.poll(async () => {
    try {
      card.update(await PG.api("GET", url));
    } catch (err) {
      if (err.status === 404) {
        PG.message(gettext("This sandbox no longer exists."), "error");
        window.location.href = holder.dataset.homeUrl;
      }
      throw err;
    }
  }, 1000);

  PG.filesPanel(document.getElementById("files-panel"));
})();
