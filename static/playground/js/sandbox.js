// Sandbox screen: its card (status, buttons) kept fresh by polling, "Check my server",
// the files panel, and the mode and response rules editors, or a program sandbox's
// editor and console.
import { gettext } from "./i18n-helpers.js";
import { $, message, screenReady } from "./dom.js";
import { api, poll } from "./api.js";
import { Card, listenToCards } from "./cards.js";
import { filesPanel } from "./files.js";
import { initModes } from "./modes.js";
import { initRules } from "./rules.js";
import { initProgram } from "./program.js";
import { initChecks } from "./checks.js";
import { liveSocket } from "./live.js";
import "./read-only.js"; // a teacher's read-only look: the banner's Stop

const holder = $("sandbox-card");
const url = holder.dataset.sandboxUrl;
const card = new Card(JSON.parse($("initial-data").textContent), {
  showFiles: false,
  onDeleted: () => { window.location.href = holder.dataset.homeUrl; },
});
holder.append(card.root);
listenToCards(holder);

// The page's websocket: the program's console and the checks' progress.
const live = liveSocket(holder.dataset.socketPath);
// A program sandbox's editor, help and console (parts/program.html); it updates the card.
const program = $("program-panel") ? initProgram($("program-panel"), card, live) : null;
// "Check my server" (parts/checks.html), for both kinds of sandbox.
const checksPanel = $("checks-panel");
const checks = initChecks(checksPanel, card, live, checksPanel.dataset.glossaryPage);

poll(async () => {
  try {
    const sb = await api("GET", url);
    if (program) program.update(sb);
    else card.update(sb);
    checks.update(sb);
  } catch (err) {
    if (err.status === 404) {
      message(gettext("This sandbox no longer exists."), "error");
      window.location.href = holder.dataset.homeUrl;
    }
    throw err;
  }
}, 1000);

filesPanel($("files-panel"));

// parts/modes.html: the mode and rules panels share one JSON block.
const modesData = $("modes-data");
if (modesData) {
  if ($("modes-panel")) initModes($("modes-panel"), JSON.parse(modesData.textContent));
  if ($("rules-panel")) initRules($("rules-panel"), JSON.parse(modesData.textContent));
}

screenReady();
