// Home screen: the create form and the list of the learner's sandboxes.
import { gettext, interpolate } from "./i18n-helpers.js";
import { $, message, screenReady } from "./dom.js";
import { api, poll } from "./api.js";
import { Card, listenToCards } from "./cards.js";

const list = $("sandbox-list");
const empty = $("empty-state");
const form = $("create-form");
const listUrl = list.dataset.listUrl;
const cards = new Map(); // id -> Card
listenToCards(list);

function render(data) {
  const seen = new Set();
  for (const sb of data.sandboxes) {
    seen.add(sb.id);
    let card = cards.get(sb.id);
    if (!card) {
      card = new Card(sb, { showFiles: true, onDeleted: forget });
      cards.set(sb.id, card);
      list.append(card.root);
    } else {
      card.update(sb);
    }
  }
  for (const id of cards.keys()) if (!seen.has(id)) forget(id);
  empty.hidden = cards.size > 0;
}

function forget(id) {
  const card = cards.get(id);
  if (card) card.root.remove();
  cards.delete(id);
  empty.hidden = cards.size > 0;
}

async function refresh(suggest) {
  const data = await api("GET", listUrl + (suggest ? "?suggest=1" : ""));
  render(data);
  return data;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = $("create-button");
  const name = form.elements.name.value.trim();
  const port = Number(form.elements.port.value);
  button.disabled = true;
  button.textContent = gettext("Creating…");
  let sb;
  try {
    const mode = form.elements.mode ? form.elements.mode.value : "full";
    sb = await api("POST", form.dataset.createUrl, { name, port, mode });
  } catch (err) {
    message(interpolate(gettext("Could not create the sandbox: %s"), [err.message]), "error");
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

// The kind: henaserver (the form as it was) or a program (the starter list, one click
// each: create with that starter, start, then open its editor, start failed or not).
const starters = $("starters");
function showKind() {
  const program = document.querySelector("input[name=kind]:checked").value === "program";
  starters.hidden = !program;
  $("create-button").hidden = program;
  $("create-mode-label").hidden = program;
}
for (const radio of document.querySelectorAll("input[name=kind]")) radio.addEventListener("change", showKind);
showKind();

$("starter-list").addEventListener("click", async (event) => {
  const target = event.target.closest("button[data-starter]");
  if (!target) return;
  const buttons = starters.querySelectorAll("button[data-starter]");
  const label = target.textContent;
  for (const b of buttons) b.disabled = true;
  target.textContent = gettext("Creating…");
  // No starter: an empty program, a first comment in the page's language; not started
  // (it would not listen yet), the editor is where it begins.
  const starter = target.dataset.starter;
  const body = { name: form.elements.name.value.trim(), port: Number(form.elements.port.value),
                 kind: "program" };
  if (starter) body.starter = starter;
  else body.source = gettext("# Your server. It must listen on the port in PORT (also sys.argv[1]): see “How your program runs” below.") + "\n";
  try {
    const sb = await api("POST", form.dataset.createUrl, body);
    render({ sandboxes: [...[...cards.values()].map((c) => c.sandbox), sb] });
    if (starter) {
      target.textContent = gettext("Starting…");
      await cards.get(sb.id).act("start", gettext("Starting…"));
    }
    window.location.href = sb.links.page;
  } catch (err) {
    message(interpolate(gettext("Could not create the sandbox: %s"), [err.message]), "error");
    for (const b of buttons) b.disabled = false;
    target.textContent = label;
  }
});

render(JSON.parse($("initial-data").textContent));
poll(() => refresh(false), 1000);

screenReady();
