// Home page: the create form and the list of the learner's sandboxes.
"use strict";

(function () {
  const list = document.getElementById("sandbox-list");
  const empty = document.getElementById("empty-state");
  const form = document.getElementById("create-form");
  const listUrl = list.dataset.listUrl;
  const cards = new Map(); // id -> PG.Card

  function render(data) {
    const seen = new Set();
    for (const sb of data.sandboxes) {
      seen.add(sb.id);
      let card = cards.get(sb.id);
      if (!card) {
        card = new PG.Card(sb, { showFiles: true, onDeleted: forget });
        cards.set(sb.id, card);
        list.append(card.root);
      } else {
        card.update(sb);
      }
    }
    for (const [id, card] of cards) if (!seen.has(id)) forget(id, card);
    empty.hidden = cards.size > 0;
  }

  function forget(id) {
    const card = cards.get(id);
    if (card) card.root.remove();
    cards.delete(id);
    empty.hidden = cards.size > 0;
  }

  async function refresh(suggest) {
    const data = await PG.api("GET", listUrl + (suggest ? "?suggest=1" : ""));
    render(data);
    return data;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = document.getElementById("create-button");
    const name = form.elements.name.value.trim();
    const port = Number(form.elements.port.value);
    button.disabled = true;
    button.textContent = gettext("Creating…");
    let sb;
    try {
      const mode = form.elements.mode ? form.elements.mode.value : "full";
      sb = await PG.api("POST", form.dataset.createUrl, { name, port, mode });
    } catch (err) {
      PG.message(interpolate(gettext("Could not create the sandbox: %s"), [err.message]), "error");
      button.disabled = false;
      button.textContent = gettext("Create and start");
      return;
    }
    render({ sandboxes: [...[...cards.values()].map((c) => c.sandbox), sb] });
    button.textContent = gettext("Starting…");
    await cards.get(sb.id).act("start", gettext("Starting…"));
    button.disabled = false;
    button.textContent = gettext("Create and start");
    const data = await refresh(true).catch(() => null);
    if (data && data.suggested_port) form.elements.port.value = data.suggested_port;
    form.elements.name.value = "site-" + (cards.size + 1);
  });

  render(JSON.parse(document.getElementById("initial-data").textContent));
  PG.poll(() => refresh(false), 1000);
})();
