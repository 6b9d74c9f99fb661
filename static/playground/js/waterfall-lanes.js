// The waterfall's arithmetic, no DOM (issue 16 point 2): from exchange summaries (their
// `times`, the server's own clock in microseconds, docs/events.md) to one lane per
// connection, each exchange a bar with its phases, and the facts the picture shows:
// keep-alive reuse, pipelining, connections open at once. waterfall.js draws it.

// A bar's phases, each between two of the server's timestamps. The time before a
// connection's first request (accepted -> first_byte) and between requests on it is
// the lane's thin line, not a phase: the server was only waiting.
export const PHASES = [
  ["receive", "first_byte", "request_complete"], // the request arriving
  ["server", "request_complete", "response_start"], // the server's own work
  ["send", "response_start", "response_end"], // the response leaving
];
const ORDER = ["accepted", "first_byte", "head_complete", "request_complete", "response_start", "response_end"];

const timesOf = (item) => item.times || {};

// [start, end] of an exchange's bar: from its first byte (or the connection's accept)
// to its last response byte, else to the last thing that happened.
export function extent(item) {
  const t = timesOf(item);
  const start = t.first_byte ?? t.accepted ?? item.started_us;
  let end = start;
  for (const name of ORDER) if (t[name] != null && t[name] > end) end = t[name];
  return [start, end];
}

// The phases that happened: [{name, from, to}] (a request cut short has no "send").
export function phases(item) {
  const t = timesOf(item);
  const found = [];
  for (const [name, from, to] of PHASES) {
    const start = from === "request_complete" ? (t.request_complete ?? t.head_complete) : t[from];
    if (start != null && t[to] != null) found.push({ name, from: start, to: t[to] });
  }
  return found;
}

// Lanes, one per connection (a connection is its run and its number: each run is a
// new server counting from 1), in the order they were accepted. Each lane's bars are
// placed on tracks so that overlapping bars (pipelined requests) sit one under the
// other instead of on top of each other.
export function layout(items) {
  const byLane = new Map();
  for (const item of items) {
    const key = item.run + ":" + item.conn;
    if (!byLane.has(key)) byLane.set(key, { key, run: item.run, conn: item.conn, items: [] });
    byLane.get(key).items.push(item);
  }
  const lanes = [];
  for (const lane of byLane.values()) {
    lane.items.sort((a, b) => a.index - b.index || a.seq - b.seq);
    const trackEnds = [];
    let previousEnd = null;
    lane.bars = lane.items.map((item) => {
      const [start, end] = extent(item);
      // Pipelined: this request began arriving before the previous answer was sent
      // (RFC 9112 section 9.3.2): the client did not wait for it.
      const pipelined = previousEnd != null && start < previousEnd;
      previousEnd = Math.max(previousEnd ?? end, end);
      let track = trackEnds.findIndex((last) => last <= start);
      if (track < 0) { track = trackEnds.length; trackEnds.push(end); } else trackEnds[track] = end;
      return { item, start, end, track, pipelined, reused: item.index > 0,
               unanswered: timesOf(item).response_end == null };
    });
    lane.tracks = Math.max(trackEnds.length, 1);
    lane.opened = Math.min(...lane.items.map((i) => timesOf(i).accepted ?? extent(i)[0]));
    lane.closed = Math.max(...lane.bars.map((b) => b.end));
    lanes.push(lane);
  }
  lanes.sort((a, b) => a.opened - b.opened || a.run - b.run || a.conn - b.conn);
  return lanes;
}

// What the picture shows, counted: connections, the most open at once, requests on a
// reused connection, pipelined ones, unanswered ones.
export function facts(lanes) {
  const bars = lanes.flatMap((lane) => lane.bars);
  const edges = lanes.flatMap((lane) => [[lane.opened, 1], [lane.closed, -1]])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]); // a close before an open at the same time
  let open = 0;
  let most = 0;
  for (const [, step] of edges) { open += step; most = Math.max(most, open); }
  return {
    connections: lanes.length,
    parallel: most,
    reused: bars.filter((b) => b.reused).length,
    pipelined: bars.filter((b) => b.pipelined).length,
    unanswered: bars.filter((b) => b.unanswered).length,
  };
}

// An end this long after the last bar (or, for a longer run, after as long as the run
// had lasted) still shares its picture: a once run's exit, a crash under load. A stop
// an hour later would squeeze every bar to a line, so it is left out (said in words).
export const NEAR_END_US = 1_000_000;

// The time range that holds every bar and the runs' ends that came soon after them
// (`near`), with room after an end to show that nothing listened any more.
export function domain(lanes, ends) {
  const starts = lanes.map((l) => l.opened);
  if (!starts.length) return null;
  const from = Math.min(...starts);
  let to = Math.max(...lanes.map((l) => l.closed), from + 1);
  const near = ends.filter((end) => end - to <= Math.max(to - from, NEAR_END_US));
  if (near.length) {
    to = Math.max(to, ...near);
    to += Math.max((to - from) * 0.25, 1000);
  }
  return { from, to };
}

// Microseconds since the epoch of an ISO date (the runs API's started_at/ended_at; the
// playground and its servers share this computer's clock).
export const isoMicros = (iso) => (iso ? Date.parse(iso) * 1000 : null);
