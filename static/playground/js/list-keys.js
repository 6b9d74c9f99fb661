// The traffic page's two page-wide keys (the list's own arrows and Enter are in
// list-view.js): "/" goes to the filter box, as in DevTools and GitHub; Esc closes the
// exchange's detail and gives the focus back to its row in the list. Neither acts while
// the learner types in a field, where both keys mean what they always mean.
function typing(target) {
  return target.closest && (target.closest("input, textarea, select, [contenteditable=''], [contenteditable=true]"));
}

// filter: the filter box; detail: exchange.js's view (close()); panel: its element;
// list: the TrafficList.
export function listKeys({ filter, detail, panel, list }) {
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "/" && !typing(event.target)) {
      event.preventDefault();
      filter.focus();
      filter.select();
    } else if (event.key === "Escape" && !panel.hidden && !typing(event.target)) {
      event.preventDefault();
      detail.close();
      list.focusSelected();
    }
  });
}
