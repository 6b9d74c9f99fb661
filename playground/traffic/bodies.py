"""A recorded body made readable for the exchange detail's Decoded view, as data (no
Django): what framing and content codings were undone, the text by the one decoding
rule, JSON re-indented or its syntax error located, and whether it is an image or HTML.
The raw view never uses any of this: it shows the recorded bytes as they are.

The steps, in the order a client undoes them (RFC 9110 section 8.4, RFC 9112 section 7):

1. ``Transfer-Encoding: chunked`` is read off (the sizes, extensions and trailers go).
2. Each ``Content-Encoding`` is undone, last applied first: gzip, deflate, br.
   Decoding is bounded: a body that would expand past ``MAX_DECODED`` is refused, not
   decoded (a decompression bomb: 64 KiB of gzip can become 64 MiB).
3. The text decoding rule, the one the page states: the charset named in Content-Type
   when it is a charset we know, else UTF-8. A byte that is not valid in that charset is
   returned as bytes (the page shows an escape, ``\\xff``), never as an invented
   character such as U+FFFD or a Latin-1 guess.

Every step reports what it did with a code the page words in the viewer's language.
"""

from __future__ import annotations

import base64
import codecs
import io
import json
import re
import zlib
from dataclasses import asdict, dataclass
from typing import Any

import brotli

from . import exports

# A decoded body larger than this is refused: the recording keeps bodies up to 64 KiB,
# and 1 MiB of text is as much as a page shows comfortably; more is a bomb or a mistake.
MAX_DECODED = 1024 * 1024

# Charsets the rule accepts, by Python's canonical codec name: the ones pages use. Other
# codec names Python knows (rot13, unicode_escape, idna...) are not charsets at all.
_CHARSETS = re.compile(r"^(utf-8|utf-16(-[lb]e)?|ascii|iso8859-\d+|cp125\d|cp932|shift_jis"
                       r"|euc_jp|iso2022_jp|gbk|gb2312|gb18030|big5|euc_kr|koi8-[ru]"
                       r"|mac-roman)$")
# Labels browsers accept that Python spells otherwise (WHATWG Encoding, "labels").
_ALIASES = {"windows-31j": "cp932", "x-sjis": "shift_jis", "ms_kanji": "shift_jis"}

_ESCAPE = "playground.bytes"
# Lone surrogates: what _ESCAPE turns each undecodable byte into. No charset decodes to
# them, so they mark exactly the bytes to show as escapes.
_ESCAPED = re.compile("[\udc00-\udcff]+")


def _escape_bytes(error: UnicodeError) -> tuple[str, int]:
    """Each byte a codec could not decode becomes U+DC00 + the byte (Python's
    surrogateescape, for bytes under 0x80 too)."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start:error.end]
    return "".join(chr(0xDC00 + b) for b in bad), error.end


codecs.register_error(_ESCAPE, _escape_bytes)


@dataclass(frozen=True)
class Step:
    """One layer taken off: ``name`` is chunked, gzip, deflate, br (or the unknown
    coding's name); ``outcome`` is done, incomplete (the bytes ended early: the
    recording's cut), refused (past MAX_DECODED), failed (not valid) or unknown (a
    coding we cannot undo). Sizes in bytes, before and after."""

    name: str
    outcome: str
    size_in: int
    size_out: int
    chunks: int = 0


def _unzip(data: bytes, wbits: int) -> tuple[bytes, str]:
    inflater = zlib.decompressobj(wbits)
    out = inflater.decompress(data, MAX_DECODED + 1)
    if len(out) > MAX_DECODED or inflater.unconsumed_tail:
        return b"", "refused"
    return out, "done" if inflater.eof else "incomplete"


def _unbrotli(data: bytes) -> tuple[bytes, str]:
    inflater = brotli.Decompressor()
    out = inflater.process(data, output_buffer_limit=MAX_DECODED + 1)
    if len(out) > MAX_DECODED or not inflater.can_accept_more_data():
        return b"", "refused"
    return out, "done" if inflater.is_finished() else "incomplete"


def undo_coding(name: str, data: bytes) -> tuple[bytes, str]:
    """``data`` with the content coding ``name`` undone, and the outcome (Step)."""
    try:
        if name in ("gzip", "x-gzip"):
            return _unzip(data, 16 + zlib.MAX_WBITS)
        if name == "deflate":
            # RFC 9110 section 8.4.1.2: the zlib format. Some servers send a raw deflate
            # stream instead; browsers accept both, so do we.
            try:
                return _unzip(data, zlib.MAX_WBITS)
            except zlib.error:
                return _unzip(data, -zlib.MAX_WBITS)
        if name == "br":
            return _unbrotli(data)
    except (zlib.error, brotli.error):
        return b"", "failed"
    return b"", "unknown"


def _codings(value: str | None) -> list[str]:
    return [c.strip().lower() for c in (value or "").split(",") if c.strip()]


def undo_steps(message: exports.Message) -> tuple[bytes, list[Step]]:
    """The body with chunking and content codings taken off, and each step; stops at the
    first step that cannot be done (the steps say which)."""
    data, steps = message.body, []
    transfer = _codings(message.header("transfer-encoding"))
    if transfer and transfer[-1] == "chunked":
        chunks = exports.read_chunks(data)
        steps.append(Step("chunked", chunks.outcome, len(data), len(chunks.data), chunks.count))
        data = chunks.data
        if chunks.outcome == "failed":
            return data, steps
        transfer = transfer[:-1]
    # Transfer codings under chunked (``gzip, chunked``: rare, RFC 9112 section 7), then
    # the content codings, each list last applied first.
    codings = _codings(message.header("content-encoding")) + transfer
    for name in reversed(codings):
        if name == "identity":
            continue
        out, outcome = undo_coding(name, data)
        steps.append(Step(name, outcome, len(data), len(out)))
        if outcome not in ("done", "incomplete"):
            return data, steps
        data = out
    return data, steps


def charset_rule(content_type: str) -> dict[str, str]:
    """Which charset reads the text: ``{"charset", "source"}``; source is content-type
    (the charset named there), default (none named: UTF-8) or unknown (one named that we
    do not know: UTF-8, and ``named`` says what was asked)."""
    match = re.search(r";\s*charset\s*=\s*\"?([^\";\s]+)", content_type, re.I)
    if not match:
        return {"charset": "utf-8", "source": "default"}
    named = match[1]
    try:
        codec = codecs.lookup(_ALIASES.get(named.lower(), named)).name
    except LookupError:
        codec = ""
    if not _CHARSETS.match(codec):
        return {"charset": "utf-8", "source": "unknown", "named": named}
    return {"charset": codec, "source": "content-type", "named": named}


def decode_text(data: bytes, charset: str) -> list[dict[str, str]]:
    """``data`` in ``charset`` as pieces: ``{"text": ...}`` and, for bytes not valid in
    it, ``{"bytes": "fffe"}`` (hex)."""
    text = data.decode(charset, _ESCAPE)
    pieces, at = [], 0
    for run in _ESCAPED.finditer(text):
        if run.start() > at:
            pieces.append({"text": text[at:run.start()]})
        pieces.append({"bytes": bytes(ord(c) - 0xDC00 for c in run[0]).hex()})
        at = run.end()
    if at < len(text):
        pieces.append({"text": text[at:]})
    return pieces


def kind_of(content_type: str, data: bytes) -> str:
    """image, html, json, text or binary, from the media type (RFC 9110 section 8.3);
    without one, text when the bytes are UTF-8 text, else binary (never sniffed as HTML
    or an image: that is what browsers must not do either)."""
    media = content_type.split(";")[0].strip().lower()
    if media.startswith("image/"):
        return "image"
    if media in ("text/html", "application/xhtml+xml"):
        return "html"
    if media == "application/json" or media.endswith("+json"):
        return "json"
    if media.startswith("text/") or re.search(r"javascript|xml|x-www-form-urlencoded", media):
        return "text"
    if not media:
        return "text" if exports.is_text(data) else "binary"
    return "binary"


# Python's json messages (json/decoder.py) as codes the page words.
_JSON_ERRORS = {
    "Expecting value": "expecting_value",
    "Expecting ',' delimiter": "expecting_comma",
    "Expecting ':' delimiter": "expecting_colon",
    "Expecting property name enclosed in double quotes": "expecting_name",
    "Extra data": "extra_data",
    "Unterminated string starting at": "unterminated_string",
    "Invalid control character at": "control_character",
    "Invalid \\escape": "bad_escape",
    "Invalid \\uXXXX escape": "bad_escape",
}
# A string, an empty object or array (one token: it stays on its line), a punctuation
# mark, or a literal.
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\{\s*\}|\[\s*\]|[{}\[\],:]|[^\s{}\[\],:"]+')
_JSON_LITERAL = re.compile(r"^(true|false|null|-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?)$")
_CLOSING = {"{": "}", "[": "]"}
# Re-indenting adds two spaces a level to every line: a body nested deeply on purpose
# (900 "[" then 900 "]", over and over) would grow a thousandfold, to gigabytes. A
# re-indented text longer than this is not made: the body is shown as text.
MAX_PRETTY = 4 * MAX_DECODED


def _position(text: str, offset: int) -> dict[str, int]:
    line_start = text.rfind("\n", 0, offset) + 1
    return {"offset": offset, "line": text.count("\n", 0, offset) + 1,
            "column": offset - line_start + 1}


def pretty_json(text: str) -> dict[str, Any] | None:
    """``{"pretty": text}``, the JSON re-indented by its own tokens (numbers, escapes and
    repeated names kept exactly as sent), or ``{"error": {"code", "offset", "line",
    "column"}}`` at the first syntax error (offset in characters of ``text``). None when
    it is nested too deeply for Python's parser or would re-indent past MAX_PRETTY."""
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return {"error": {"code": _JSON_ERRORS.get(error.msg, "other"), "detail": error.msg,
                          **_position(text, error.pos)}}
    except RecursionError:  # "[" * 50_000: deeper than the parser goes
        return None
    out, depth = io.StringIO(), 0
    for token in _JSON_TOKEN.finditer(text):
        word = piece = token[0]
        if word in _CLOSING:
            depth += 1
            piece = word + "\n" + "  " * depth
        elif word in "}]":
            depth -= 1
            piece = "\n" + "  " * depth + word
        elif word == ",":
            piece = ",\n" + "  " * depth
        elif word == ":":
            piece = ": "
        elif word[0] in _CLOSING:  # {} or [], whatever space was inside
            piece = word[0] + word[-1]
        elif word[0] != '"' and not _JSON_LITERAL.match(word):
            # Python's json takes NaN and Infinity; JSON (RFC 8259 section 6) does not.
            return {"error": {"code": "bad_literal", "detail": word,
                              **_position(text, token.start())}}
        out.write(piece)
        if out.tell() > MAX_PRETTY:
            return None
    return {"pretty": out.getvalue()}


def view(raw: bytes, response: bool) -> dict[str, Any]:
    """Everything the Decoded view shows about the body of these recorded bytes
    (docs/api.md, "The body of an exchange")."""
    message = exports.parse(raw, response)
    if message.head_size < 0:
        return {"complete": False}
    content_type = message.header("content-type") or ""
    data, steps = undo_steps(message)
    undone = all(step.outcome in ("done", "incomplete") for step in steps)
    result: dict[str, Any] = {
        "complete": True, "content_type": content_type, "sent_size": len(message.body),
        "steps": [asdict(step) for step in steps], "decoded": undone, "size": len(data),
    }
    if not undone:
        return result
    kind = kind_of(content_type, data)
    result["kind"] = kind
    if kind == "image":
        result["body_b64"] = base64.b64encode(data).decode("ascii")
    elif kind != "binary":
        rule = charset_rule(content_type)
        result["charset"] = rule
        result["text"] = decode_text(data, rule["charset"])
        if kind == "json":
            escaped = any("bytes" in piece for piece in result["text"])
            result["json"] = {"error": {"code": "not_text", "offset": 0, "line": 1,
                                        "column": 1}} if escaped \
                else pretty_json("".join(piece["text"] for piece in result["text"]))
            if result["json"] is None:  # too deep or too large to re-indent: text
                del result["json"]
                result["kind"] = "text"
    return result
