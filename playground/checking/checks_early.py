"""Stages 1-6: the tutorial's server, check by check (docs/checks.md).

Stages 1-3 judge one exchange, the run's first (``first_exchange``): a server that
answers only once (the tutorial's first server, henaserver's "once" mode) still shows
that it reads, heads and frames its answer right, and fails only at stage 4.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from playground.refusals import Message, gettext_noop

from .client import RESET, Conn, Response, problem_failure, window
from .context import Check, Context
from .heads import scan_head
from .inputs import GeneratedFile
from .results import CheckFailed, Failure, Sent

# Stage 1's request: longer than one recv(4096), sent in pieces this far apart. A
# server that reads once answers during a gap; one slower than all the gaps together
# resets the connection instead (unless a relay in between hides the reset: hence
# several gaps).
FIRST_REQUEST_SIZE = 5000
PIECE_ENDS = (100, 2000, 4500)
GAP = 0.25
# How long to wait, after a Content-Length body, for bytes that should not come.
EXTRA_WAIT = 1.0
USER_AGENT = "HenaServer-Playground-check/1"
JS_TYPES = {"text/javascript", "application/javascript", "application/x-javascript",
            "application/ecmascript", "text/ecmascript"}

EARLY = gettext_noop("The server answered or closed after only %(got)s of the %(total)s "
                     "bytes of the request: it did not wait for the rest.")
NO_END = gettext_noop("The server neither answered nor closed within %(seconds)s seconds "
                      "after the whole request was sent.")
NO_LENGTH = gettext_noop("The response has no Content-Length: the client cannot tell "
                         "where the body ends until the connection closes.")
EXTRA = gettext_noop("%(extra)s more bytes came after the %(length)s bytes that "
                     "Content-Length announced.")
NOT_STATUS = gettext_noop("Expected %(expected)s, got \"%(got)s\".")
WRONG_BODY = gettext_noop("The body is not the file's content: it differs from byte "
                          "%(offset)s on.")
WRONG_TYPE = gettext_noop("Content-Type is \"%(got)s\", but a .%(extension)s file is "
                          "%(expected)s.")
NO_TYPE = gettext_noop("The response has no Content-Type: a .%(extension)s file is "
                       "%(expected)s.")


def request(ctx: Context, path: str, method: str = "GET", *, close: bool = True,
            extra: str = "") -> bytes:
    """A plain HTTP/1.1 request for ``path``, with the target's Host."""
    host = f"{ctx.target.host}:{ctx.target.port}"
    return (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n"
            f"{extra}{'Connection: close' + chr(13) + chr(10) if close else ''}\r\n"
            ).encode("latin-1")


def fetch(ctx: Context, path: str, method: str = "GET") -> Response:
    """One request on a new connection; its response, or CheckFailed."""
    conn = ctx.connect()
    conn.send(request(ctx, path, method))
    return conn.read_response(head_request=method == "HEAD")


# --- the first exchange (stages 1-3) ---------------------------------------------------

@dataclass
class FirstExchange:
    request: bytes
    sent: Sent | None = None
    failure: Failure | None = None      # could not connect, or send
    conn: Conn | None = None
    response: Response | None = None
    read_failure: Failure | None = None  # reading the response broke a rule
    extra: bytes = b""                   # bytes after a Content-Length body
    sent_at: float = 0.0                 # when the last piece was sent (monotonic)


def _first_request(ctx: Context) -> bytes:
    head = request(ctx, ctx.files.html.path, extra="Accept: text/html\r\n")[:-2]
    padding: list[bytes] = []
    number = 1
    while len(head) + sum(len(p) for p in padding) < FIRST_REQUEST_SIZE:
        padding.append(f"X-Check-Padding-{number:02}: {secrets.token_hex(48)}\r\n".encode())
        number += 1
    return head + b"".join(padding) + b"\r\n"


def first_exchange(ctx: Context) -> FirstExchange:
    """The run's first request (the .html file, in pieces, longer than 4096 bytes) and
    what came back; made once per run, by the first check that asks."""
    first: FirstExchange | None = ctx.shared.get("first")
    if first is None:
        first = ctx.shared["first"] = _exchange_first(ctx)
    if first.sent is not None:
        ctx.record(first.sent)
    return first


def _exchange_first(ctx: Context) -> FirstExchange:
    first = FirstExchange(_first_request(ctx))
    data = first.request
    try:
        conn = first.conn = ctx.connect()
        ends = (0, *PIECE_ENDS, len(data))
        pieces = [data[start:end] for start, end in zip(ends, ends[1:], strict=False)]
        first.sent = conn.send_pieces(pieces, GAP)
        first.sent_at = time.monotonic()
    except CheckFailed as failed:
        first.failure = failed.failure
        first.sent = failed.failure.sent
        if first.conn is None:
            return first
    assert first.conn is not None
    try:
        first.response = first.conn.read_response()
    except CheckFailed as failed:
        first.read_failure = failed.failure
        return first
    if first.response.framing == "length":
        first.extra = first.conn.read_until_close(EXTRA_WAIT)
    return first


def _received(first: FirstExchange) -> bytes:
    return first.conn.received if first.conn else b""


def reads_whole_request(ctx: Context) -> Failure | None:
    first = first_exchange(ctx)
    conn = first.conn
    if conn is None:
        return first.failure
    total = len(first.request)
    if conn.interrupted_at is not None:
        return Failure(Message(EARLY, got=conn.interrupted_at, total=total),
                       expected=f"{total} bytes read before answering",
                       received=window(first.request, conn.interrupted_at),
                       sent=first.sent, side="request", offset=conn.interrupted_at,
                       hint="one-recv")
    if conn.was_reset():
        return Failure(Message(RESET), expected=f"{total} bytes read",
                       received=window(_received(first), None), sent=first.sent,
                       hint="one-recv")
    if not _received(first) and not conn.eof:
        waited = round(time.monotonic() - first.sent_at, 1)
        return Failure(Message(NO_END, seconds=waited), sent=first.sent)
    return None


# --- stage 2: the head -----------------------------------------------------------------

CheckFunction = Callable[[Context], Failure | None]
Pick = Callable[[Context], GeneratedFile]


def _head_check(part: str) -> CheckFunction:
    def check(ctx: Context) -> Failure | None:
        first = first_exchange(ctx)
        if first.conn is None:
            return first.failure
        raw = _received(first)
        head = scan_head(raw)
        if not raw:
            return _nothing(first)
        problems = head.problems_in(part)
        return problem_failure(problems[0], raw, first.sent) if problems else None
    return check


def _nothing(first: FirstExchange) -> Failure:
    if first.read_failure:
        return replace(first.read_failure, hint="")
    return Failure(Message(gettext_noop("The server sent nothing.")), sent=first.sent)


# --- stage 3: the body's length ---------------------------------------------------------

def has_content_length(ctx: Context) -> Failure | None:
    first = first_exchange(ctx)
    if first.conn is None:
        return first.failure
    raw = _received(first)
    if not raw:
        return _nothing(first)
    head = scan_head(raw)
    if head.header("Content-Length") is not None:
        return None
    if first.read_failure and first.read_failure.hint == "never-closes":
        return first.read_failure
    return Failure(Message(NO_LENGTH), expected="Content-Length: N\\r\\n",
                   received=window(raw, head.end), sent=first.sent, offset=head.end)


def body_matches_length(ctx: Context) -> Failure | None:
    first = first_exchange(ctx)
    if first.conn is None:
        return first.failure
    if first.read_failure:
        return first.read_failure
    response = first.response
    assert response is not None
    if response.framing != "length" or not first.extra:
        return None if response.framing == "length" else has_content_length(ctx)
    length = len(response.body)
    whole = response.body + first.extra
    in_characters = len(whole.decode("utf-8", "replace")) == length
    return Failure(Message(EXTRA, extra=len(first.extra), length=length),
                   expected=f"Content-Length: {len(whole)}",
                   received=window(response.raw + first.extra, len(response.raw)),
                   sent=first.sent, offset=len(response.raw),
                   hint="length-in-characters" if in_characters else "")


# --- stage 4: again and again ------------------------------------------------------------

def answers_again(ctx: Context) -> Failure | None:
    for file in (ctx.files.css, ctx.files.js, ctx.files.png):
        try:
            fetch(ctx, file.path)
        except CheckFailed as failed:
            # "No loop" only when nothing came back; a reply with a mistake of its own
            # keeps that mistake's hint.
            failure = failed.failure
            hint = failure.hint or ("" if failure.received else "no-loop")
            raise CheckFailed(replace(failure, hint=hint)) from None
    return None


# --- stage 5: files by path ----------------------------------------------------------------

def _serves(pick: Pick) -> CheckFunction:
    def check(ctx: Context) -> Failure | None:
        file = pick(ctx)
        response = fetch(ctx, file.path)
        return _expect_status(response, 200) or _expect_body(response, file)
    return check


def _expect_status(response: Response, status: int) -> Failure | None:
    if response.status == status:
        return None
    wanted = "200 OK" if status == 200 else "404 Not Found"
    return Failure(Message(NOT_STATUS, expected=wanted,
                           got=response.status_line.decode("latin-1")),
                   expected=f"HTTP/1.1 {wanted}\\r\\n", received=window(response.raw, 9),
                   sent=response.sent, offset=9)


def _expect_body(response: Response, file: GeneratedFile) -> Failure | None:
    body = response.body
    if body == file.content:
        return None
    differs = next((i for i, (a, b) in enumerate(zip(body, file.content, strict=False)) if a != b),
                   min(len(body), len(file.content)))
    offset = response.body_offset + differs
    return Failure(Message(WRONG_BODY, offset=offset),
                   expected=file.content[:200].decode("utf-8", "replace"),
                   received=window(response.raw, offset), sent=response.sent,
                   offset=offset)


def missing_is_404(ctx: Context) -> Failure | None:
    return _expect_status(fetch(ctx, ctx.files.missing), 404)


# --- stage 6: Content-Type ---------------------------------------------------------------

def _typed(pick: Pick) -> CheckFunction:
    def check(ctx: Context) -> Failure | None:
        file = pick(ctx)
        response = fetch(ctx, file.path)
        failure = _expect_status(response, 200)
        if failure:
            return failure
        extension = file.name.rsplit(".", 1)[1]
        allowed = JS_TYPES if extension == "js" else {file.media_type}
        value = response.header("Content-Type")
        if value is None:
            return Failure(Message(NO_TYPE, extension=extension, expected=file.media_type),
                           expected=f"Content-Type: {file.media_type}\\r\\n",
                           received=window(response.raw, response.head.end - 2),
                           sent=response.sent, offset=response.head.end - 2)
        if value.split(";")[0].strip().lower() in allowed:
            return None
        names = [name.lower() for name, _ in response.headers]
        offset = response.head.header_offsets[names.index("content-type")]
        return Failure(Message(WRONG_TYPE, got=value, extension=extension,
                               expected=file.media_type),
                       expected=f"Content-Type: {file.media_type}\\r\\n",
                       received=window(response.raw, offset), sent=response.sent,
                       offset=offset + len("Content-Type: "))
    return check


STAGE_1 = (
    Check("whole-request", gettext_noop("Reads a request that arrives in pieces and is "
                                        "longer than 4096 bytes"), reads_whole_request,
          timeout=6.0),
)
STAGE_2 = (
    Check("status-line", gettext_noop("A valid status line"), _head_check("status-line")),
    Check("header-lines", gettext_noop("Header lines that end in CRLF"),
          _head_check("header")),
    Check("empty-line", gettext_noop("An empty line after the head"), _head_check("end")),
)
STAGE_3 = (
    Check("has-length", gettext_noop("The response has a Content-Length"),
          has_content_length),
    Check("exact-length", gettext_noop("The body is exactly Content-Length bytes long"),
          body_matches_length),
)
STAGE_4 = (
    Check("again", gettext_noop("Answers three more connections, one after another"),
          answers_again, timeout=8.0),
)
STAGE_5 = (
    Check("html", gettext_noop("Serves a generated .html file by its path"),
          _serves(lambda ctx: ctx.files.html)),
    Check("nested", gettext_noop("Serves a file in a subfolder"),
          _serves(lambda ctx: ctx.files.nested)),
    Check("binary", gettext_noop("Serves a .png file byte for byte"),
          _serves(lambda ctx: ctx.files.png)),
    Check("missing", gettext_noop("404 Not Found for a missing file"), missing_is_404),
)
STAGE_6 = (
    Check("html", gettext_noop("text/html for .html"), _typed(lambda ctx: ctx.files.html)),
    Check("css", gettext_noop("text/css for .css"), _typed(lambda ctx: ctx.files.css)),
    Check("png", gettext_noop("image/png for .png"), _typed(lambda ctx: ctx.files.png)),
    Check("js", gettext_noop("text/javascript for .js"), _typed(lambda ctx: ctx.files.js)),
)
