// The composer's helpers around its textarea (parts/composer.html; docs/traffic-ui.md,
// "composer"): a pasted curl command becomes the bytes curl would send (the server
// reads it: compose/curl.py, POST /api/compose/curl/), a request is copied as an
// escaped string, and Ctrl+Enter (⌘+Enter) sends from anywhere in the panel.
import { gettext, interpolate, L10N } from "./i18n-helpers.js";
import { $, copyText, message } from "./dom.js";
import { api } from "./api.js";
import { fromBase64, hex2 } from "./bytes.js";

const ESCAPES = { 0x0d: "\\r", 0x0a: "\\n", 0x09: "\\t", 0x5c: "\\\\", 0x22: "\\\"" };

// `bytes` as one double-quoted string, as Python (with a b in front), C and JavaScript
// read it: CR, LF, tab, backslash and quote escaped, printable ASCII as is, every other
// byte as \xHH. Bytes, not characters: "é" in UTF-8 is "\xc3\xa9", so the string
// gives back exactly these bytes, whatever their encoding.
export function escapedString(bytes) {
  let out = "\"";
  for (const byte of bytes) {
    if (ESCAPES[byte]) out += ESCAPES[byte];
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += "\\x" + hex2(byte);
  }
  return out + "\"";
}

// A bare LF as CRLF, as the server does for "send LF as CRLF" (composer.to_crlf).
export function withCrlf(bytes) {
  const out = [];
  bytes.forEach((byte, i) => {
    if (byte === 0x0a && (i === 0 || bytes[i - 1] !== 0x0d)) out.push(0x0d);
    out.push(byte);
  });
  return Uint8Array.from(out);
}

// `composer` is {fill(bytes, endings, explain), plan()} from composer.js.
export function initComposerTools(box, composer) {
  $("composer-curl-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const command = $("composer-curl").value;
    try {
      const r = await api("POST", box.dataset.curlUrl, { command });
      let explain = L10N.f(gettext("The %(bytes)s bytes %(agent)s sends for this command, exactly (nothing sent yet)."),
        { bytes: r.length, agent: r.user_agent });
      if (r.ignored.length) {
        explain += " " + interpolate(gettext("Ignored, as they change no byte: %s"), [r.ignored.join(" ")]);
      }
      composer.fill(fromBase64(r.request_b64), "exact", explain);
      $("composer-text").focus();
    } catch (err) {
      message(interpolate(gettext("Could not read the curl command: %s"), [err.message]), "error");
    }
  });

  $("composer-copy-string").addEventListener("click", async () => {
    const { bytes, endings } = composer.plan();
    await copyText(escapedString(endings === "crlf" ? withCrlf(bytes) : bytes));
    message(gettext("Copied the request as an escaped string."));
  });

  // Ctrl+Enter sends, and sends again: the quickest loop for "change a byte, re-send".
  box.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    event.preventDefault();
    const send = $("composer-send");
    if (!send.disabled) send.click();
  });
}
