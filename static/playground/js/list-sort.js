// Sortable columns of the traffic list: each header becomes a button that sorts by its
// column (again: the other way round); the header says so with aria-sort. The list's
// own order, by seq from oldest (the arrival order, with run dividers), is "#" ascending.
import { gettext, L10N } from "./i18n-helpers.js";

// The traffic table's columns, left to right (traffic.html), and what each sorts by.
const COLUMNS = ["seq", "time", "conn", "method", "path", "status", "size", "duration"];
const VALUE = {
  seq: (i) => i.seq,
  time: (i) => i.started_us,
  conn: (i) => i.conn * 1e6 + i.index, // connection, then the request's place on it
  method: (i) => i.method || "",
  path: (i) => i.target || "",
  status: (i) => i.status,
  size: (i) => i.response_length,
  duration: (i) => i.duration_us,
};

// A comparator for Array.sort: missing values (no status, no duration) last either way,
// ties by seq so the order never jumps between two draws.
export function compare({ key, descending }) {
  const value = VALUE[key];
  const sign = descending ? -1 : 1;
  return (a, b) => {
    const x = value(a);
    const y = value(b);
    if (x == null || y == null) return x == null ? (y == null ? a.seq - b.seq : 1) : -1;
    if (x < y) return -sign;
    if (x > y) return sign;
    return a.seq - b.seq;
  };
}

// Turn each header of `thead` into a sort button; `order` ({key, descending}) is changed
// in place, then onChange() redraws.
export function sortable(thead, order, onChange) {
  const cells = [...thead.rows[0].cells];
  const buttons = cells.map((th, index) => {
    const key = COLUMNS[index];
    const b = document.createElement("button");
    b.type = "button";
    b.className = "sort";
    b.dataset.sort = key;
    b.append(...th.childNodes);
    b.title = L10N.f(gettext("Sort by %(column)s (again: the other way round)"), { column: b.textContent });
    th.append(b);
    return b;
  });
  const show = () => {
    for (const b of buttons) {
      const th = b.parentElement;
      const on = b.dataset.sort === order.key;
      th.setAttribute("aria-sort", on ? (order.descending ? "descending" : "ascending") : "none");
    }
  };
  thead.addEventListener("click", (event) => {
    const b = event.target.closest("button.sort");
    if (!b) return;
    if (order.key === b.dataset.sort) order.descending = !order.descending;
    else Object.assign(order, { key: b.dataset.sort, descending: false });
    show();
    onChange();
  });
  show();
}
