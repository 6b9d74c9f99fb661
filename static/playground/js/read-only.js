// The banner of a teacher's read-only look at a student's sandbox
// (parts/read_only.html): its Stop button, the one change a teacher may make there.
// The page's own parts (the card, the traffic view) show the stop as it happens.
// Imported by both sandbox pages; without the banner (the owner looks) it does nothing.
import { gettext } from "./i18n-helpers.js";
import { $, message } from "./dom.js";
import { api } from "./api.js";

const banner = $("read-only-banner");
const stop = $("read-only-stop");

if (banner) stop.addEventListener("click", async () => {
  stop.disabled = true;
  try {
    const sandbox = await api("POST", banner.dataset.stopUrl);
    message(sandbox.status === "stopped" ? gettext("Stopped. The student sees that you stopped it.")
                                         : sandbox.status, "ok");
  } catch (err) {
    message(err.message, "error");
  } finally {
    stop.disabled = false;
  }
});
