// How the traffic list names an exchange's place on its connection: "3.1" is the first
// request on connection 3, "3.2" the second (keep-alive reuse). Both numbers count from
// 1, as the exchange's detail says it ("connection 3, request 1 on it"); henaserver's
// `index` counts from 0 (docs/events.md), so it is shown plus one.
export const connLabel = (conn, index) => conn + "." + (index + 1);
