// The guided tour: "Set up this step" asks the server to put the tour sandbox in the
// step's state (tour.py), then shows the links and what to look for.
"use strict";

(function () {
  for (const step of document.querySelectorAll(".tour-step")) {
    const button = step.querySelector(".setup");
    const state = step.querySelector(".setup-state");
    const result = step.querySelector(".step-result");
    button.addEventListener("click", async () => {
      button.disabled = true;
      state.textContent = gettext("Setting up…");
      try {
        const r = await PG.api("POST", step.dataset.setupUrl, {});
        const open = step.querySelector(".open-sandbox");
        const composer = step.querySelector(".open-composer");
        open.hidden = !r.links.open;
        if (r.links.open) open.href = r.links.open;
        composer.hidden = !r.links.compose;
        if (r.links.compose) composer.href = r.links.compose;
        step.querySelector(".watch-traffic").href = r.links.traffic;
        result.hidden = false;
        state.textContent = L10N.f(gettext("Ready: “%(name)s” runs on port %(port)s."),
                                   { name: r.sandbox.name, port: String(r.sandbox.port) });
        step.classList.add("ready");
        for (const other of document.querySelectorAll(".tour-step.current")) other.classList.remove("current");
        step.classList.add("current");
      } catch (err) {
        state.textContent = "";
        PG.message(interpolate(gettext("Could not set up this step: %s"), [err.message]), "error");
      } finally {
        button.disabled = false;
      }
    });
  }
})();
