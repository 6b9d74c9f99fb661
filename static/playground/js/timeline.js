// The traffic page's timeline tools (issue 16, points 2 and 3): the waterfall
// (waterfall.js, parts/waterfall.html) and "Pick for comparison" in the exchange detail
// (diff-pick.js), which links to the comparison page (exchange-diff.js).
import { initWaterfall } from "./waterfall.js";
import { initDiffPick } from "./diff-pick.js";

// detail: the page's ExchangeView (exchange.js); root: #traffic, whose data-* hold the
// traffic API's URLs; sandbox: the page's sandbox JSON ({id, name, ...}); runs: the
// page's Runs (runs.js).
export function initTimeline(detail, root, sandbox, runs) {
  const section = document.getElementById("waterfall");
  if (!section) return;
  initDiffPick(detail.panel, sandbox, section.dataset.compareUrl);
  initWaterfall(section, detail, root.dataset.exchangesUrl, runs);
}
