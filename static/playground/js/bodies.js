// The body in the exchange detail's Decoded view. The server undoes what was done to it
// (<part>.body, playground/traffic/bodies.py: chunked, gzip, deflate, br, within a bound)
// and decodes its text by the one rule this view states: the charset of Content-Type,
// else UTF-8; a byte not valid there comes back as bytes and is shown as an escape
// (\xff), never as an invented character. Here it is shown: an image, HTML as source or
// rendered in a sandboxed frame (no scripts, no same origin, nothing fetched), JSON
// re-indented or its syntax error marked, text, or the body as sent. Captured bytes are
// hostile: text goes in through textContent, HTML only into the sandboxed frame.
import { gettext, ngettext, interpolate, L10N, formatSize } from "./i18n-helpers.js";
import { el, button } from "./dom.js";
import { renderText, fromBase64 } from "./bytes.js";

// A rendered page may not run scripts or fetch anything (its CSS, images, beacons to
// the sandbox would show up in the traffic list); inline styles still apply.
const RENDER_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";
// The server's bound on a decoded body (playground/traffic/bodies.py MAX_DECODED): a
// coding that would expand past it is "refused", and the note names it.
const MAX_DECODED = 1024 * 1024;

const STEP_TEXT = {
  done: () => gettext("%(name)s: %(in)s as sent, %(out)s decoded"),
  incomplete: () => gettext("%(name)s: the bytes end early (the recording was cut): decoded as far as they go"),
  refused: () => gettext("%(name)s: not decoded, it would expand past %(max)s (a decompression bomb?): shown as sent"),
  failed: () => gettext("%(name)s: these bytes are not valid %(name)s: shown as sent"),
  unknown: () => gettext("%(name)s: a coding the playground cannot undo: shown as sent"),
};

const CHUNK_TEXT = {
  done: (step) => ngettext("chunked: %(chunks)s chunk, %(in)s as sent, %(out)s de-chunked",
                           "chunked: %(chunks)s chunks, %(in)s as sent, %(out)s de-chunked", step.chunks),
  incomplete: () => gettext("chunked: the last chunk never came (the recording was cut): de-chunked as far as it goes"),
  failed: () => gettext("chunked: a chunk size line is not valid: shown as sent"),
};

const JSON_ERRORS = {
  expecting_value: () => gettext("a value was expected here"),
  expecting_comma: () => gettext("a comma (,) was expected here"),
  expecting_colon: () => gettext("a colon (:) was expected here"),
  expecting_name: () => gettext("a name in double quotes was expected here"),
  extra_data: () => gettext("more text after the JSON value"),
  unterminated_string: () => gettext("this string never ends"),
  control_character: () => gettext("a control character inside a string"),
  bad_escape: () => gettext("a backslash escape that JSON does not have"),
  bad_literal: () => gettext("not a JSON value (JSON has no NaN or Infinity)"),
  not_text: () => gettext("the body is not valid text in its charset, so it cannot be JSON"),
};

// Fill `box` with the body described by `view` (the server's JSON, a promise).
// `sent`: the body's bytes as recorded (for "As sent"); `type`: its Content-Type.
export async function showBody(box, view, sent, type) {
  let data;
  try {
    data = await view;
  } catch (err) {
    box.append(el("p", "muted", interpolate(gettext("Could not load the bytes: %s"), [err.message])));
    return;
  }
  const notes = data.steps.map(stepText);
  if (data.truncated) notes.push(interpolate(gettext("cut at %s by the recording"), [formatSize(data.sent_size)]));
  if (notes.length) box.append(el("p", "muted body-steps", notes.join("; ")));
  if (data.charset) box.append(el("p", "muted body-charset", charsetText(data.charset)));
  const views = choices(data, sent, type);
  const shown = el("div", "body-shown");
  if (views.length > 1) {
    const bar = el("div", "toolbar body-choices");
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", gettext("How to show the body"));
    for (const [key, label] of views) {
      const b = button(label, "btn small body-choice", { body: key });
      b.setAttribute("aria-pressed", "false");
      bar.append(b);
    }
    bar.addEventListener("click", (event) => {
      const b = event.target.closest("button.body-choice");
      if (b) pick(b.dataset.body);
    });
    box.append(bar);
  }
  box.append(shown);
  const pick = (key) => {
    for (const b of box.querySelectorAll(".body-choice")) b.setAttribute("aria-pressed", String(b.dataset.body === key));
    shown.textContent = "";
    views.find(([k]) => k === key)[2](shown);
  };
  pick(views[0][0]);
}

// [key, label, draw(container)] for each way this body can be shown, the first shown.
function choices(data, sent, type) {
  const asSent = ["sent", gettext("As sent"), (box) => {
    const pre = el("pre", "bytes view-raw sent-body");
    renderText(pre, sent);
    box.append(pre);
  }];
  if (!data.decoded) return [asSent];
  const extra = data.steps.length ? [asSent] : [];
  if (data.kind === "image") return [["image", gettext("Image"), (box) => drawImage(box, data, type)], ...extra];
  if (data.kind === "binary") {
    const what = { type: type || gettext("binary"), size: formatSize(data.size) };
    return [["binary", gettext("Binary"), (box) => box.append(
      el("p", "muted", L10N.f(gettext("A %(type)s body of %(size)s: see the Hex view."), what)))], ...extra];
  }
  const source = ["text", data.kind === "html" ? gettext("Source") : gettext("Text"),
                  (box) => box.append(textBlock(data.text, data.charset.charset))];
  if (data.kind === "html") return [source, ["rendered", gettext("Rendered"), (box) => drawHtml(box, data.text)], ...extra];
  if (data.kind === "json") {
    const json = data.json;
    if (json.error) return [["json", gettext("JSON"), (box) => drawJsonError(box, data.text, json.error, data.charset.charset)], ...extra];
    return [["json", gettext("Pretty JSON"), (box) => box.append(el("pre", "decoded-text json-pretty", json.pretty))],
            source, ...extra];
  }
  return [source, ...extra];
}

function stepText(step) {
  const words = step.name === "chunked" ? CHUNK_TEXT : STEP_TEXT;
  const text = (words[step.outcome] || STEP_TEXT.unknown)(step);
  return L10N.f(text, { name: step.name, in: formatSize(step.size_in), out: formatSize(step.size_out),
                        chunks: step.chunks, max: formatSize(MAX_DECODED) });
}

// The rule, stated with what it chose for this body.
function charsetText(rule) {
  const what = { charset: rule.charset.toUpperCase(), named: rule.named || "" };
  const chosen = rule.source === "content-type"
    ? gettext("Text read as %(charset)s, the charset named in Content-Type.")
    : rule.source === "unknown"
      ? gettext("Content-Type names the charset %(named)s, which the playground does not know: text read as UTF-8.")
      : gettext("Text read as UTF-8: Content-Type names no charset.");
  return L10N.f(chosen, what) + " " +
    gettext("The rule: the charset of Content-Type, else UTF-8; a byte that is not valid in it is shown as \\xNN, never guessed.");
}

// Text pieces ({text} or {bytes: hex}) into a <pre>, each undecodable run as an escape.
function textBlock(pieces, charset) {
  const pre = el("pre", "decoded-text");
  for (const piece of pieces) {
    if (piece.text !== undefined) { pre.append(piece.text); continue; }
    const span = el("span", "escaped-byte", piece.bytes.replace(/../g, "\\x$&"));
    span.title = interpolate(gettext("bytes that are not valid %s"), [charset.toUpperCase()]);
    pre.append(span);
  }
  return pre;
}

function drawImage(box, data, type) {
  const url = URL.createObjectURL(new Blob([fromBase64(data.body_b64)], { type: type.split(";")[0] }));
  const img = el("img", "preview");
  img.alt = interpolate(gettext("image body (%s)"), [type]);
  img.addEventListener("load", () => URL.revokeObjectURL(url), { once: true });
  img.addEventListener("error", () => {
    img.replaceWith(el("p", "muted", gettext("The browser cannot show these bytes as an image: see the Hex view.")));
    URL.revokeObjectURL(url);
  }, { once: true });
  img.src = url;
  box.append(img);
}

function drawHtml(box, pieces) {
  // What a browser would render: a byte not valid in the charset becomes U+FFFD here,
  // as it would in any browser (the Source view shows which bytes those were).
  const html = pieces.map((p) => (p.text !== undefined ? p.text : "\ufffd")).join("");
  const frame = el("iframe", "rendered-html");
  frame.setAttribute("sandbox", "");
  frame.title = gettext("the body rendered: no scripts run, nothing it links to is loaded");
  frame.srcdoc = '<!doctype html><meta http-equiv="Content-Security-Policy" content="' + RENDER_POLICY + '">' + html;
  box.append(el("p", "muted", gettext("Rendered in a sandbox: no scripts run, and the files it links to (CSS, images) are not loaded.")), frame);
}

function drawJsonError(box, pieces, error, charset) {
  const what = (JSON_ERRORS[error.code] || (() => error.detail || error.code))();
  box.append(el("p", "json-error-note", L10N.f(gettext("Not valid JSON: line %(line)s, column %(column)s: %(what)s."),
                                                 { line: error.line, column: error.column, what })));
  if (error.code === "not_text") { box.append(textBlock(pieces, charset)); return; }
  const text = pieces.map((p) => p.text).join("");
  const pre = el("pre", "decoded-text");
  const at = Math.min(error.offset, text.length);
  const mark = el("span", "json-error", text.slice(at, at + 1) || "␃");
  mark.title = what;
  pre.append(text.slice(0, at), mark, text.slice(at + 1));
  box.append(pre);
  mark.scrollIntoView({ block: "nearest" });
}
