// The raw request composer (docs/api.md, "Composer"): templates, line endings, slow
// pieces; the answer shown with CR/LF visible or as hex. Also "Re-send" and "Open in
// composer" in the exchange detail. Captured and typed bytes go through textContent only.
import { gettext, ngettext, interpolate, L10N } from "./i18n-helpers.js";
import { $, button, message } from "./dom.js";
import { api } from "./api.js";
import { renderText, hexDump, toBase64, fromBase64 } from "./bytes.js";

// The composer panel (parts/composer.html) of the traffic screen; `detail` is the
// exchange detail panel, whose "exchange-shown" events bring the replay buttons.
export function initComposer(box, detail) {
  const data = JSON.parse($("composer-data").textContent);
  const text = $("composer-text");
  let view = "raw";
  let last = null; // the last answer's bytes

  // A textarea cannot hold every byte: it turns CRLF into LF, and non-UTF-8 bytes are
  // shown as Latin-1. So recorded bytes are kept aside ("pinned") and sent exactly until
  // the text is edited; an edit of an all-CRLF request switches to "send LF as CRLF".
  let pinned = null;
  let pinnedCrlf = false;
  function fill(bytes, endings, explain) {
    let shown;
    try { shown = new TextDecoder("utf-8", { fatal: true }).decode(bytes); } catch (err) { shown = null; }
    pinned = endings === "exact" ? bytes : null;
    const latin = new TextDecoder("latin1").decode(bytes);
    pinnedCrlf = latin.includes("\r\n") && !/(^|[^\r])\n/.test(latin);
    text.value = shown === null ? latin : shown;
    $("composer-endings").value = endings;
    $("composer-pieces").value = 1;
    $("composer-delay").value = 0;
    $("composer-explain").textContent = explain || "";
  }
  text.addEventListener("input", () => {
    if (pinned && pinnedCrlf) $("composer-endings").value = "crlf";
    pinned = null;
  });

  const templates = $("composer-templates");
  for (const t of data.templates) templates.append(button(t.label, "btn small", { template: t.id }));
  templates.addEventListener("click", (event) => {
    const target = event.target.closest("button[data-template]");
    const t = target && data.templates.find((one) => one.id === target.dataset.template);
    if (!t) return;
    fill(new TextEncoder().encode(t.text), t.line_endings, t.explain);
    $("composer-pieces").value = t.pieces;
    $("composer-delay").value = t.delay_ms;
  });
  // ?compose=<template id> (the guided tour's "Open the composer") fills it in.
  const wanted = new URLSearchParams(location.search).get("compose");
  const preset = wanted && templates.querySelector(`[data-template="${CSS.escape(wanted)}"]`);
  if (preset) preset.click();

  function render() {
    const target = $("composer-response");
    target.className = "bytes view-" + view;
    if (!last) return;
    if (view === "hex") target.textContent = hexDump(last);
    else renderText(target, last);
  }
  box.addEventListener("click", (event) => {
    const tab = event.target.closest(".ctab");
    if (!tab) return;
    view = tab.dataset.view;
    for (const t of box.querySelectorAll(".ctab")) t.setAttribute("aria-selected", String(t === tab));
    render();
  });

  const ENDED = {
    closed: gettext("the server closed the connection"),
    idle: gettext("nothing more arrived for 1.5 s (connection still open)"),
    time_limit: gettext("stopped at the 10 s limit"), size_limit: gettext("stopped at the 1 MiB limit (truncated)"),
    refused: gettext("could not connect"),
  };
  const ms = (v) => (v == null ? "—" : L10N.decimal(v, 1) + " ms");

  async function send(bytes, endings, pieces, delayMs) {
    $("composer-send").disabled = true;
    $("composer-state").textContent = gettext("sending…");
    try {
      const r = await api("POST", box.dataset.composeUrl, {
        request_b64: toBase64(bytes), line_endings: endings, pieces, delay_ms: delayMs,
      });
      last = fromBase64(r.response_b64);
      const t = r.timings;
      $("composer-summary").textContent = L10N.f(ngettext(
        "sent %(sent)s B in %(count)s piece to %(target)s", "sent %(sent)s B in %(count)s pieces to %(target)s",
        r.pieces.length), { sent: r.request_length, count: r.pieces.length, target: r.target }) + " · " +
        L10N.f(gettext("received %(received)s B"), { received: r.response_length }) + " · " +
        (ENDED[r.ended] || r.ended) + (r.error ? " (" + r.error + ")" : "") + " · " +
        L10N.f(gettext("connect %(connect)s, all sent %(sent)s, first byte %(first)s, last byte %(last)s"), {
          connect: ms(t.connect), sent: ms(t.sent), first: ms(t.first_byte), last: ms(t.last_byte),
        });
      $("composer-result").hidden = false;
      $("composer-state").textContent = last.length ? "" : gettext("no bytes came back");
      render();
      return r;
    } catch (err) {
      $("composer-state").textContent = "";
      message(interpolate(gettext("Could not send: %s"), [err.message]), "error");
      return null;
    } finally {
      $("composer-send").disabled = false;
    }
  }

  $("composer-send").addEventListener("click", () => {
    const bytes = pinned || new TextEncoder().encode(text.value);
    send(bytes, $("composer-endings").value, Number($("composer-pieces").value) || 1,
         Number($("composer-delay").value) || 0);
  });

  // ----- replay from the exchange detail ---------------------------------------------
  // The recorded request bytes: exchange.js fetched them already for the detail panel.
  let shown = null; // {item, raw} of the exchange in the detail panel
  async function recorded() {
    try {
      return (await shown.raw.request).bytes;
    } catch (err) {
      if (err.status === 404) throw new Error(gettext("the request bytes are not stored any more"));
      throw err;
    }
  }
  const actions = $("detail-actions");
  detail.addEventListener("exchange-shown", (event) => {
    shown = event.detail;
    for (const old of actions.querySelectorAll(".replay")) old.remove();
    const resend = button(gettext("Re-send"), "btn small replay writes", { replay: "resend" });
    resend.title = gettext("Send the recorded request bytes again, exactly");
    const open = button(gettext("Open in composer"), "btn small replay writes", { replay: "open" });
    actions.prepend(resend, open);
  });
  actions.addEventListener("click", async (event) => {
    const target = event.target.closest("button[data-replay]");
    if (!target || !shown) return;
    const { seq } = shown.item;
    try {
      const bytes = await recorded();
      if (target.dataset.replay === "resend") {
        fill(bytes, "exact", interpolate(gettext("Re-sent exchange #%s as recorded."), [seq]));
        box.scrollIntoView({ behavior: "smooth", block: "start" });
        await send(bytes, "exact", 1, 0);
      } else {
        fill(bytes, "exact", interpolate(gettext("Exchange #%s, exactly as recorded: edit and send."), [seq]));
        box.scrollIntoView({ behavior: "smooth", block: "start" });
        text.focus();
      }
    } catch (err) { message(err.message, "error"); }
  });
}
