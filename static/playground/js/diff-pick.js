// "Pick for comparison" in the exchange detail (issue 16 point 3): the picked exchange
// is remembered in localStorage, so the second one may come from another run, another
// sandbox, another tab. Once one is picked, every other exchange shown offers "Compare
// with #N", a link to the comparison page (exchange-diff.js). Its buttons join the
// detail's toolbar when exchange.js says an exchange is shown ("exchange-shown"), as
// export.js's do.
import { gettext, L10N } from "./i18n-helpers.js";
import { $, el, button, message } from "./dom.js";

const KEY = "playground.compare.pick"; // {sandbox, seq, name, what}

function picked() {
  try {
    const pick = JSON.parse(localStorage.getItem(KEY) || "null");
    return pick && Number.isSafeInteger(pick.sandbox) && Number.isSafeInteger(pick.seq) ? pick : null;
  } catch (err) {
    return null; // storage refused or edited by hand: nothing picked
  }
}

// detail: the exchange detail panel; sandbox: {id, name} of this page's sandbox;
// compareUrl: the comparison page.
export function initDiffPick(detail, sandbox, compareUrl) {
  const actions = $("detail-actions");
  let shown = null; // the exchange in the detail panel

  function draw() {
    for (const old of actions.querySelectorAll(".compare-pick-action")) old.remove();
    if (!shown) return;
    const pick = picked();
    const same = pick && pick.sandbox === sandbox.id && pick.seq === shown.seq;
    if (pick && !same) {
      const link = el("a", "btn small accent compare-pick-action compare-with",
                      L10N.f(gettext("Compare with #%(seq)s of “%(name)s”"), { seq: pick.seq, name: pick.name }));
      link.href = compareUrl + "?" + new URLSearchParams({
        a: pick.sandbox + ":" + pick.seq, b: sandbox.id + ":" + shown.seq });
      link.title = pick.what;
      actions.append(link);
    }
    const label = same ? gettext("Picked for comparison") : pick ? gettext("Pick this one instead")
      : gettext("Pick for comparison");
    const pickButton = button(label, "btn small compare-pick-action", { comparePick: "1" });
    pickButton.disabled = Boolean(same);
    actions.append(pickButton);
  }

  detail.addEventListener("exchange-shown", (event) => {
    shown = event.detail.item;
    draw();
  });
  actions.addEventListener("click", (event) => {
    if (!shown || !event.target.closest("button[data-compare-pick]")) return;
    const what = "#" + shown.seq + " " + (shown.method || "") + " " + (shown.target || "");
    try {
      localStorage.setItem(KEY, JSON.stringify({ sandbox: sandbox.id, seq: shown.seq, name: sandbox.name, what }));
    } catch (err) {
      message(gettext("This browser does not let the page remember the exchange."), "error");
      return;
    }
    message(L10N.f(gettext("Picked #%(seq)s. Open another exchange, of any sandbox or run, and press “Compare with”."),
                   { seq: shown.seq }), "ok");
    draw();
  });
  // Picked in another tab: this one's buttons follow.
  window.addEventListener("storage", (event) => { if (event.key === KEY) draw(); });
}
