// Small helpers shared by every page: calling the JSON API and showing messages.
// Plain JavaScript, no build step: learners can read it in the browser's devtools.
"use strict";

const PG = {};

PG.cookie = function (name) {
  const match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
  return match ? decodeURIComponent(match[1]) : "";
};

// Shorthand for document.getElementById, used by every page's script.
PG.$ = (id) => document.getElementById(id);

// The one failure path of PG.api and PG.fetchRaw. fetch_ turns "no answer at all" into
// an Error with .status 0; failure_ turns a non-2xx answer into an Error whose message is
// the server's {"error": ...} text (when it sent JSON), and whose .status and .data hold
// the rest. An HTML or plain-text error page gives "The playground answered 500."
PG.fetch_ = async function (url, options) {
  try {
    return await fetch(url, Object.assign({ credentials: "same-origin" }, options));
  } catch (err) {
    throw Object.assign(new Error(gettext("The playground is not answering. Is it still running?")),
                        { status: 0 });
  }
};

PG.json_ = (response) => ((response.headers.get("Content-Type") || "").includes("json")
  ? response.json() : Promise.resolve(null));

PG.failure_ = async function (response) {
  const data = await PG.json_(response).catch(() => null);
  const message = (data && data.error) || interpolate(gettext("The playground answered %s."), [response.status]);
  return Object.assign(new Error(message), { status: response.status, data });
};

// Call the API. `body` may be a plain object (sent as JSON), FormData, a string or
// null. Resolves to the parsed JSON; rejects as described above.
PG.api = async function (method, url, body, contentType) {
  const headers = { "X-CSRFToken": PG.cookie("csrftoken"), Accept: "application/json" };
  let payload = body;
  if (body && !(body instanceof FormData) && typeof body === "object") {
    payload = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  } else if (typeof body === "string") {
    headers["Content-Type"] = contentType || "text/plain; charset=utf-8";
  }
  const response = await PG.fetch_(url, { method, headers, body: payload });
  if (!response.ok) throw await PG.failure_(response);
  return PG.json_(response);
};

// GET something that is not JSON (a file, recorded bytes, a curl command) with the same
// errors as PG.api. `as` says how to read the body: "bytes" (a Uint8Array), "text",
// "blob", "arrayBuffer", or "response" for the Response itself (to read its headers).
PG.fetchRaw = async function (url, as) {
  const response = await PG.fetch_(url, {});
  if (!response.ok) throw await PG.failure_(response);
  if (as === "response") return response;
  if (as === "bytes") return new Uint8Array(await response.arrayBuffer());
  return response[as]();
};

// Show a message at the top of the page. Errors stay until closed; others fade.
PG.message = function (text, kind) {
  const box = document.getElementById("messages");
  const item = document.createElement("div");
  item.className = "notice " + (kind || "info");
  item.setAttribute("role", kind === "error" ? "alert" : "status");
  const span = document.createElement("span");
  span.textContent = text;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "close";
  close.setAttribute("aria-label", gettext("Dismiss"));
  close.textContent = "×";
  close.addEventListener("click", () => item.remove());
  item.append(span, close);
  box.append(item);
  while (box.children.length > 4) box.firstElementChild.remove();
  if (kind !== "error") setTimeout(() => item.remove(), 6000);
};

// Sizes with the page's number format (1,234 B / 1.5 KB; Japanese uses the same units).
PG.bytes = function (n) {
  if (n < 1024) return L10N.number(n) + " B";
  const units = ["KB", "MB", "GB"];
  let value = n;
  let unit = "B";
  for (const u of units) {
    value /= 1024;
    unit = u;
    if (value < 1024) break;
  }
  return (value < 10 ? L10N.decimal(value, 1) : L10N.number(Math.round(value))) + " " + unit;
};

PG.duration = function (seconds) {
  const s = Math.floor(seconds);
  if (s < 60) return L10N.f(gettext("%(s)s s"), { s });
  if (s < 3600) return L10N.f(gettext("%(m)s min %(s)s s"), { m: Math.floor(s / 60), s: s % 60 });
  return L10N.f(gettext("%(h)s h %(m)s min"), { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
};

// Re-run `task` every `ms` while the tab is visible; never two at once.
PG.poll = function (task, ms) {
  let running = false;
  const tick = async () => {
    if (running || document.hidden) return;
    running = true;
    try { await task(); } catch (err) { /* the next tick tries again */ }
    running = false;
  };
  setInterval(tick, ms);
  document.addEventListener("visibilitychange", tick);
};

PG.el = function (tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};
