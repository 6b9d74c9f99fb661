// Calling the playground's JSON API (docs/api.md) from any screen. Plain JavaScript, no
// build step: learners can read it in the browser's devtools.
import { gettext, interpolate } from "./i18n-helpers.js";

export function cookie(name) {
  const match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
  return match ? decodeURIComponent(match[1]) : "";
}

// The one failure path of api() and fetchRaw(). send() turns "no answer at all" into an
// Error with .status 0; failure() turns a non-2xx answer into an Error whose message is
// the server's {"error": ...} text (when it sent JSON), and whose .status and .data hold
// the rest. An HTML or plain-text error page gives "The playground answered 500."
async function send(url, options) {
  try {
    return await fetch(url, Object.assign({ credentials: "same-origin" }, options));
  } catch (err) {
    throw Object.assign(new Error(gettext("The playground is not answering. Is it still running?")),
                        { status: 0 });
  }
}

const json = (response) => ((response.headers.get("Content-Type") || "").includes("json")
  ? response.json() : Promise.resolve(null));

async function failure(response) {
  const data = await json(response).catch(() => null);
  const message = (data && data.error) || interpolate(gettext("The playground answered %s."), [response.status]);
  return Object.assign(new Error(message), { status: response.status, data });
}

// Call the API. `body` may be a plain object (sent as JSON), FormData, a string or
// null. Resolves to the parsed JSON; rejects as described above.
export async function api(method, url, body, contentType) {
  return json(await apiResponse(method, url, body, { contentType }));
}

// api(), resolving to the Response itself, unread: for an answer read as it streams in
// (the class broadcast's JSON lines, `accept` "application/x-ndjson").
export async function apiResponse(method, url, body, { contentType, accept = "application/json" } = {}) {
  const headers = { "X-CSRFToken": cookie("csrftoken"), Accept: accept };
  let payload = body;
  if (body && !(body instanceof FormData) && typeof body === "object") {
    payload = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  } else if (typeof body === "string") {
    headers["Content-Type"] = contentType || "text/plain; charset=utf-8";
  }
  const response = await send(url, { method, headers, body: payload });
  if (!response.ok) throw await failure(response);
  return response;
}

// GET something that is not JSON (a file, recorded bytes, a curl command) with the same
// errors as api(). `as` says how to read the body: "bytes" (a Uint8Array), "text",
// "blob", "arrayBuffer", or "response" for the Response itself (to read its headers).
export async function fetchRaw(url, as) {
  const response = await send(url, {});
  if (!response.ok) throw await failure(response);
  if (as === "response") return response;
  if (as === "bytes") return new Uint8Array(await response.arrayBuffer());
  return response[as]();
}

// Re-run `task` every `ms` while the tab is visible; never two at once.
export function poll(task, ms) {
  let running = false;
  const tick = async () => {
    if (running || document.hidden) return;
    running = true;
    try { await task(); } catch (err) { /* the next tick tries again */ }
    running = false;
  };
  setInterval(tick, ms);
  document.addEventListener("visibilitychange", tick);
}

// Test hook, not used by the site: tests/e2e/conftest.py (start_in_page) sets up a
// sandbox from an open page with the page's own api(), as its buttons do. Modules
// import api() instead of reading this.
window.PG = Object.freeze({ api });
