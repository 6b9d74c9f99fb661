// The guided tour screen: "Set up this step" asks the server to put the tour sandbox in
// the step's state (learn/tour.py), then shows the links and what to look for. One click
// listener on the list of steps serves every step's button.
import { gettext, interpolate, L10N } from "./i18n-helpers.js";
import { $, message, screenReady } from "./dom.js";
import { api } from "./api.js";

async function setUp(step, button) {
  const state = step.querySelector(".setup-state");
  button.disabled = true;
  state.textContent = gettext("Setting up…");
  try {
    const r = await api("POST", step.dataset.setupUrl, {});
    const open = step.querySelector(".open-sandbox");
    const composer = step.querySelector(".open-composer");
    open.hidden = !r.links.open;
    if (r.links.open) open.href = r.links.open;
    composer.hidden = !r.links.compose;
    if (r.links.compose) composer.href = r.links.compose;
    step.querySelector(".watch-traffic").href = r.links.traffic;
    step.querySelector(".step-result").hidden = false;
    state.textContent = L10N.f(gettext("Ready: “%(name)s” runs on port %(port)s."),
                               { name: r.sandbox.name, port: String(r.sandbox.port) });
    step.classList.add("ready");
    for (const other of document.querySelectorAll(".tour-step.current")) other.classList.remove("current");
    step.classList.add("current");
  } catch (err) {
    state.textContent = "";
    message(interpolate(gettext("Could not set up this step: %s"), [err.message]), "error");
  } finally {
    button.disabled = false;
  }
}

$("tour-steps").addEventListener("click", (event) => {
  const button = event.target.closest("button.setup");
  const step = button && button.closest(".tour-step");
  if (step) setUp(step, button);
});

screenReady();
