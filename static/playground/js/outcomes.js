// How an exchange ended. The names and their labels (in the page's language) come from
// the server's one list, playground/traffic/outcomes.py, in the traffic page's
// json_script block "outcomes-data": neither the filter nor the detail view keeps its own.

const node = document.getElementById("outcomes-data");

export const COMPLETE = "complete";
export const OUTCOME_TEXT = Object.freeze(node ? JSON.parse(node.textContent) : {});

// What a learner's own server did wrong (the capture relay's `mistake`), with labels from
// playground/traffic/mistakes.py in the block "mistakes-data"; the explanation and the
// RFC section are the glossary's (explain.js describeMistake).
const mistakesNode = document.getElementById("mistakes-data");
export const MISTAKE_TEXT = Object.freeze(mistakesNode ? JSON.parse(mistakesNode.textContent) : {});

export function isOutcome(name) {
  return Object.hasOwn(OUTCOME_TEXT, name);
}
