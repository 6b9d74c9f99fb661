// The guided tour screen: "Set up this step" asks the server to put the tour sandbox in
// the step's state (learn/tour.py), then shows the links and what to look for, and where
// the checks apply, "Check stages 1 to N". One click listener on the list of steps
// serves every step's buttons.
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
    step.dataset.checksUrl = r.links.checks || "";
    step.dataset.pageUrl = r.links.page;
    const checks = step.querySelector(".tour-checks");
    if (checks) checks.hidden = !r.links.checks;
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

// "Check stages 1 to N" (a step's .tour-checks): a run of the checks on the tour
// sandbox (docs/api.md, "Check my server"), followed here until it ends by asking the
// API again (this page has no websocket); every check is on the sandbox page, which
// the result links to.
const POLL_MS = 700;
async function check(step, button) {
  const box = step.querySelector(".tour-checks");
  const result = box.querySelector(".checks-result");
  const details = box.querySelector(".checks-details");
  const reach = Number(box.dataset.reach);
  details.href = step.dataset.pageUrl + "#checks-panel";
  details.hidden = false;
  button.disabled = true;
  result.textContent = gettext("Starting the checks…");
  try {
    let run = await api("POST", step.dataset.checksUrl, { through: Number(box.dataset.through) });
    while (run.state === "running") {
      const now = (run.stages || []).find((s) => s.state === "running");
      result.textContent = now ? L10N.f(gettext("Checking stage %(stage)s of %(through)s…"),
                                        { stage: now.number, through: run.through })
        : gettext("Checking…");
      await new Promise((done) => setTimeout(done, POLL_MS));
      run = await api("GET", run.links.self);
    }
    box.dataset.reached = String(run.reached);
    result.textContent = L10N.f(gettext("Stage reached: %(reached)s of %(through)s"),
                                { reached: run.reached, through: run.through }) + " " +
      (run.reached === reach ? gettext("(as this step expects)")
        : L10N.f(gettext("(this step expects %(reach)s: see why on the sandbox page)"), { reach }));
  } catch (err) {
    result.textContent = "";
    message(L10N.f(gettext("Could not check the tour sandbox: %(error)s"), { error: err.message }), "error");
  } finally {
    button.disabled = false;
  }
}

$("tour-steps").addEventListener("click", (event) => {
  const button = event.target.closest("button.setup, button.check-stages");
  const step = button && button.closest(".tour-step");
  if (!step) return;
  if (button.classList.contains("setup")) setUp(step, button);
  else check(step, button);
});

screenReady();
