// The sandbox page's one websocket to the traffic consumer (/ws/sandboxes/<id>/, the
// protocol in docs/api.md), for the messages this page shows: the program's console
// lines ("console") and the checks' progress ("checks"). `after` is past any seq, so
// the consumer sends none of the traffic history this page does not show. It reconnects
// by itself, waiting longer each time (up to 10 s); "open" handlers run on each connect,
// so a panel can read again what it may have missed meanwhile. The class board uses it
// too (board.js): no query, and `final` close codes after which retrying cannot help;
// "close" handlers get each close event.
export function liveSocket(path, { query = "?after=" + Number.MAX_SAFE_INTEGER, final = [] } = {}) {
  const handlers = {};
  let delay = 500;
  const open = () => {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + path + query);
    socket.addEventListener("open", () => {
      delay = 500;
      for (const handler of handlers.open || []) handler();
    });
    socket.addEventListener("message", (event) => {
      let msg;
      try { msg = JSON.parse(event.data); } catch (err) { return; }
      for (const handler of handlers[msg.type] || []) handler(msg);
    });
    socket.addEventListener("close", (event) => {
      for (const handler of handlers.close || []) handler(event);
      if (final.includes(event.code)) return;
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 10000);
    });
  };
  open();
  return {
    // on(type, handler): handler(msg) for each message of that type ("open": on connect,
    // "close": handler(event) on each close).
    on(type, handler) { (handlers[type] = handlers[type] || []).push(handler); },
  };
}
