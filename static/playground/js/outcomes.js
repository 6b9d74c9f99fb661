// How an exchange ended. The names and their labels (in the page's language) come from
// the server's one list, playground/traffic/outcomes.py, in the traffic page's
// json_script block "outcomes-data": neither the filter nor the detail view keeps its own.

import { gettext } from "./i18n-helpers.js";

const node = document.getElementById("outcomes-data");

export const COMPLETE = "complete";
export const OUTCOME_TEXT = Object.freeze(node ? JSON.parse(node.textContent) : {});

// What a learner's own server did wrong (the capture relay's `mistake`), with labels from
// playground/traffic/mistakes.py in the block "mistakes-data"; the explanation and the
// RFC section are the glossary's (explain.js describeMistake).
const mistakesNode = document.getElementById("mistakes-data");
export const MISTAKE_TEXT = Object.freeze(mistakesNode ? JSON.parse(mistakesNode.textContent) : {});

// An exchange's outcome in words. `no_response` is henaserver's record-only mode, or,
// from the capture relay, a connection that ended before the answer (its reason says
// how): only the first is "(record-only)".
export function outcomeText(item) {
  if (item.outcome === "no_response" && item.reason && !item.reason.startsWith("record-only")) {
    return gettext("no response");
  }
  return OUTCOME_TEXT[item.outcome] || item.outcome;
}

export function isOutcome(name) {
  return Object.hasOwn(OUTCOME_TEXT, name);
}

// One exchange in one line, as a waterfall bar's title and the comparison page name it:
// "#12 GET /style.css → 200".
export function exchangeLine(item) {
  return "#" + item.seq + " " + (item.method || gettext("(unparsed request)")) + " " + (item.target || "")
    + " → " + (item.status == null ? gettext("no response") : item.status);
}
