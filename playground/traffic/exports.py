"""Exchanges out of the playground: "copy as curl", HAR 1.2, a raw dump. Pure functions
of recorded bytes (no Django), so each is tested from a table of bytes.

Recorded bytes are whatever crossed the wire, malformed included: every parser here is
lenient and never raises on odd input; what it cannot read becomes empty.
"""

from __future__ import annotations

import base64
import datetime
import re
import shlex
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import heads

HAR_CREATOR = {"name": "HenaServer Playground", "version": "1.0"}
_PRINTABLE = re.compile(r"^[^\x00-\x08\x0b-\x1f\x7f]*$")


@dataclass
class Message:
    """One HTTP message split into its parts (a request or the final response)."""

    start: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    head_size: int = -1  # bytes up to and including the empty line; -1: no complete head
    interim: list[str] = field(default_factory=list)  # 1xx status lines before it

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for n, v in self.headers if n.lower() == name), None)


def parse(raw: bytes, response: bool = False) -> Message:
    """Split recorded bytes (heads.split); header bytes are read as Latin-1 (every byte
    kept)."""
    cut = heads.split(raw, response)
    lines = [line.decode("latin-1") for line in cut.lines]
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name.strip(), value.strip()))
    return Message(lines[0], headers, cut.body, cut.head_size,
                   [line.decode("latin-1") for line in cut.interim])


@dataclass(frozen=True)
class Chunks:
    """A chunked body read (RFC 9112 section 7.1): its data, how many chunks, and the
    outcome: done (the last chunk came), incomplete (the bytes ended first: a cut
    recording), failed (a chunk-size line or a chunk's end is not valid)."""

    data: bytes
    count: int
    outcome: str


def read_chunks(body: bytes) -> Chunks:
    """The chunks' data with the sizes, extensions and trailers taken off. A size line
    may end in a bare LF, as parsers that accept one for a line also do."""
    out, pos, count = bytearray(), 0, 0
    while True:
        line_end = body.find(b"\n", pos)
        if line_end < 0:
            return Chunks(bytes(out), count, "incomplete")
        size_text = body[pos:line_end].rstrip(b"\r").split(b";")[0].strip()
        if not size_text or any(c not in b"0123456789abcdefABCDEF" for c in size_text):
            return Chunks(bytes(out), count, "failed")
        size = int(size_text, 16)
        if size == 0:
            return Chunks(bytes(out), count, "done")
        data_end = line_end + 1 + size
        out += body[line_end + 1:data_end]
        count += 1
        if data_end >= len(body):
            return Chunks(bytes(out), count, "incomplete")
        after = body[data_end:data_end + 2]
        if after == b"\r\n":
            pos = data_end + 2
        elif after[:1] == b"\n":
            pos = data_end + 1
        elif after == b"\r":
            return Chunks(bytes(out), count, "incomplete")
        else:
            return Chunks(bytes(out), count, "failed")


def dechunk(body: bytes) -> bytes | None:
    """A chunked body's data (RFC 9112 §7.1), or None if it is not whole and well formed."""
    chunks = read_chunks(body)
    return chunks.data if chunks.outcome == "done" else None


def is_text(data: bytes) -> bool:
    """True when the bytes are UTF-8 text without control characters (tab, CR and LF
    allowed): safe to show and to put in JSON or a shell string unchanged."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return bool(_PRINTABLE.match(text))


# ----- curl ---------------------------------------------------------------------------------


def _quote(value: str) -> str:
    """Shell-quote recorded bytes read as Latin-1 (a header, the method, the target):
    UTF-8 text goes through shlex.quote; any other bytes become bash's $'\\xNN', so
    nothing is changed on the way (never re-encoded as UTF-8: the byte 0xff stays 0xff)."""
    raw = value.encode("latin-1")
    if is_text(raw):
        return shlex.quote(raw.decode("utf-8"))
    escaped = "".join(chr(b) if 0x20 <= b < 0x7f and chr(b) not in "\\'" else f"\\x{b:02x}"
                      for b in raw)
    return f"$'{escaped}'"


# A target curl sends as written when it is part of the URL: a path of visible ASCII
# without "#" (curl drops a fragment) or "[]{}" (curl's URL globbing). curl
# percent-encodes other bytes in a URL (0xff becomes %ff, é becomes %c3%a9) and refuses
# spaces, so any other target goes in --request-target, which curl sends unchanged.
_URL_SAFE_TARGET = re.compile(r"^/[!-~]*$")
_CURL_URL_SPECIAL = set("#[]{}")


def _url_safe(target: str) -> bool:
    return bool(_URL_SAFE_TARGET.match(target)) and not _CURL_URL_SPECIAL & set(target)


def curl(request_raw: bytes, base_url: str, truncated: bool = False,
         body_url: str = "") -> str:
    """A curl command that sends this request again to the sandbox at ``base_url``
    (e.g. ``http://127.0.0.1:8001``): same method, target, headers in order, and body.

    Host is left to curl when it matches the URL; Content-Length is left to curl, which
    counts the body it sends. A text body goes in ``--data-raw``; any other body is
    ``--data-binary @body.bin``, to be downloaded from ``body_url``.
    """
    message = parse(request_raw)
    # The method is the first word and the version the last; a target may hold spaces.
    method, _, rest = message.start.partition(" ")
    method = method or "GET"
    target = (rest.rpartition(" ")[0] if rest.endswith(("HTTP/1.1", "HTTP/1.0")) else rest) \
        or "/"
    base = base_url.rstrip("/")
    netloc = urlsplit(base).netloc
    notes = []
    args = ["curl --http1.1"]
    if _url_safe(target):
        url = base + target
    elif target.startswith(("http://", "https://")) and _url_safe("/" + target):
        url = target  # the absolute form, as a proxy gets it
    else:  # "*", a non-ASCII path, bytes that are not UTF-8: sent exactly as recorded
        url = base + "/"
        args.append("--request-target " + _quote(target))
    body = message.body
    if (message.header("transfer-encoding") or "").lower().endswith("chunked"):
        body = dechunk(body) or body
    if method == "HEAD":
        args.append("--head")  # -X HEAD would make curl wait for a body that never comes
    elif method != ("POST" if body else "GET"):
        args.append(f"-X {_quote(method)}")
    for name, value in message.headers:
        lower = name.lower()
        if lower in ("content-length", "transfer-encoding"):
            continue
        if lower == "host" and value == netloc:
            continue
        args.append("-H " + _quote(f"{name};" if value == "" else f"{name}: {value}"))
    if body:
        if is_text(body):
            args.append("--data-raw " + shlex.quote(body.decode("utf-8")))
        else:
            args.append("--data-binary @body.bin")
            where = f" from {body_url}" if body_url else ""
            notes.append(f"# body.bin: the request body ({len(body)} bytes, not text); "
                         f"download it{where}")
    if truncated:
        notes.append("# the recording kept only the first part of this request's body")
    args.append(shlex.quote(url))
    lines = [" \\\n  ".join(args)]
    return "\n".join(notes + lines) + "\n"


# ----- HAR 1.2 ------------------------------------------------------------------------------


def _har_body(data: bytes) -> dict[str, Any]:
    """``text`` as is when it is text, else base64 with ``encoding`` (HAR 1.2 §content)."""
    if is_text(data):
        return {"text": data.decode("utf-8")}
    return {"text": base64.b64encode(data).decode("ascii"), "encoding": "base64"}


def _iso(us: int) -> str:
    when = datetime.datetime.fromtimestamp(us / 1_000_000, datetime.UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ms(times: dict[str, Any], a: str, b: str) -> float:
    """Milliseconds between two recorded stages, 0 when one did not happen."""
    if times.get(a) is None or times.get(b) is None:
        return 0
    return round(max(0, times[b] - times[a]) / 1000, 3)


def _cookies(message: Message, response: bool) -> list[dict[str, str]]:
    found = []
    if response:
        for name, value in message.headers:
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                found.append({"name": key.strip(), "value": rest.split(";")[0].strip()})
    else:
        for pair in (message.header("cookie") or "").split(";"):
            key, sep, value = pair.partition("=")
            if sep:
                found.append({"name": key.strip(), "value": value.strip()})
    return found


def har_entry(item: dict[str, Any], request_raw: bytes, response_raw: bytes,
              base_url: str) -> dict[str, Any]:
    """One HAR entry for an exchange summary (exchanges.summary) and its bytes."""
    req, res = parse(request_raw), parse(response_raw, response=True)
    times = item.get("times") or {}
    target = item.get("target") or "/"
    url = base_url.rstrip("/") + target if target.startswith("/") else base_url
    query = [{"name": k, "value": v}
             for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)]
    request: dict[str, Any] = {
        "method": item.get("method") or "", "url": url,
        "httpVersion": item.get("version") or "", "cookies": _cookies(req, False),
        "headers": [{"name": n, "value": v} for n, v in req.headers],
        "queryString": query, "headersSize": req.head_size,
        # The real size on the wire: the recording may have kept only part of it.
        "bodySize": max(0, item["request_length"] - req.head_size)
        if req.head_size >= 0 else 0,
    }
    if req.body:
        request["postData"] = {"mimeType": req.header("content-type") or "",
                               "params": [], **_har_body(req.body)}
    status_parts = res.start.split(" ", 2)
    body = res.body
    if (res.header("transfer-encoding") or "").lower().endswith("chunked"):
        body = dechunk(body) or body
    content = {"size": len(body), "mimeType": res.header("content-type") or "",
               **(_har_body(body) if body else {"text": ""})}
    if item.get("response_truncated"):
        content["comment"] = "the recording kept only the first part of this body"
    response = {
        "status": item.get("status") or 0,
        "statusText": status_parts[2] if len(status_parts) > 2 else "",
        "httpVersion": status_parts[0] if res.start.startswith("HTTP/") else "",
        "cookies": _cookies(res, True),
        "headers": [{"name": n, "value": v} for n, v in res.headers],
        "content": content, "redirectURL": res.header("location") or "",
        "headersSize": res.head_size,
        "bodySize": max(0, item["response_length"] - res.head_size)
        if res.head_size >= 0 else 0,
    }
    timings = {"send": _ms(times, "first_byte", "request_complete"),
               "wait": _ms(times, "request_complete", "response_start"),
               "receive": _ms(times, "response_start", "response_end")}
    comment = f"seq {item['seq']}, connection {item['conn']}.{item['index'] + 1}, " \
              f"outcome {item['outcome']}" + (f": {item['reason']}" if item.get("reason") else "")
    return {
        "startedDateTime": _iso(item["started_us"]),
        "time": round(sum(timings.values()), 3),
        "request": request, "response": response, "cache": {}, "timings": timings,
        "connection": str(item.get("conn")), "comment": comment,
    }


def har(entries: list[dict[str, Any]], comment: str = "") -> dict[str, Any]:
    """A whole HAR 1.2 document around ``entries`` (har_entry's)."""
    return {"log": {"version": "1.2", "creator": HAR_CREATOR, "entries": entries,
                    "comment": comment}}


# ----- raw dump ----------------------------------------------------------------------------


def raw_dump(rows: list[tuple[dict[str, Any], bytes, bytes]]) -> bytes:
    """Every exchange's exact bytes, each part after a one-line header that gives its
    length, so the file can be cut apart again without guessing."""
    out = bytearray()
    for item, request_raw, response_raw in rows:
        label = f"#{item['seq']} {item.get('method') or '?'} {item.get('target') or ''}"
        for part, data in (("request", request_raw), ("response", response_raw)):
            out += f"=== {label} {part} {len(data)} bytes ===\n".encode("utf-8", "replace")
            out += data + b"\n"
    return bytes(out)
