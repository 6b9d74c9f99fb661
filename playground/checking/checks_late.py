"""Stages 7-9: where the tutorial stops, the server grows up (docs/checks.md).

7. HEAD gets the head a GET would get, and no body (RFC 9110 §9.3.2).
8. Keep-alive: an HTTP/1.1 connection persists until a side says "Connection: close"
   (RFC 9112 §9.3), and that "close" is honoured (§9.6).
9. One slow client holds up no one: a server that waits on one connection at a time
   (one accept(), then recv() until the request is whole) answers nobody else meanwhile.

Stages 10-12 live in ``checks_guard.py`` (malformed requests, the folder's walls,
conditional requests); this module gathers all six for ``stages.py``. Where a failure
points (the status code, a header line, bytes after the end) is ``verdicts.py``.

Every request here asks "Connection: close" unless the check is about the connection
staying open, so a server that closes after each answer (the tutorial's) is judged on
the stage's point and nothing else.
"""

from __future__ import annotations

import time
from dataclasses import replace

from playground.refusals import Message, gettext_noop

from . import checks_guard
from .checks_early import fetch, request
from .client import CLOSED_EMPTY, RESET, SILENT, Conn, Response, window
from .context import Check, Context
from .results import CheckFailed, Failure
from .verdicts import at_header, at_status, extra_bytes, reworded, status_line, value_offset

# How long a server may take to close after answering a "Connection: close" request.
CLOSE_WAIT = 3.0
# Stage 9: how long the quick client waits for its answer while the slow one stalls.
# A server that serves one connection at a time never answers it: it waits on the
# slow client, which the check keeps silent until its verdict. Well under the 5 s idle
# timeout of henaserver/limits.py: anything in between that closed the silent client
# (a proxy, the capture relay if it ever applied it there) would set such a server
# free to answer, and the verdict would depend on who timed out first.
QUICK_TIMEOUT = 3.0

STATUS_DIFFERS = gettext_noop("HEAD got \"%(got)s\", but GET got \"%(expected)s\": HEAD "
                              "gets the same status as GET.")
TYPE_DIFFERS = gettext_noop("HEAD's Content-Type is \"%(got)s\", GET's is \"%(expected)s\": "
                            "HEAD gets the same header fields as GET.")
NO_LENGTH = gettext_noop("The HEAD response has no Content-Length: send the one a GET "
                         "would get (%(length)s, the length of GET's body).")
LENGTH_DIFFERS = gettext_noop("HEAD's Content-Length is %(got)s, but GET's body is "
                              "%(length)s bytes long.")
HEAD_BODY = gettext_noop("%(extra)s bytes of body followed the head of a HEAD response: "
                         "a response to HEAD never has a body, only the head a GET would "
                         "get.")
SAYS_CLOSE = gettext_noop("The first response says \"Connection: close\" to a request that "
                          "kept the connection open: an HTTP/1.1 connection persists "
                          "unless a side asks to close it.")
CLOSED_AFTER_FIRST = gettext_noop("The server closed the connection after its first "
                                  "response: an HTTP/1.1 connection persists, and the "
                                  "second request on it got no answer.")
NO_ANSWER_SECOND = gettext_noop("No answer to the second request on the same connection "
                                "within %(seconds)s seconds.")
NOT_SECOND = gettext_noop("The second answer on the connection is not the file the second "
                          "request asked for (%(path)s).")
ENDS_BY_CLOSE = gettext_noop("The first response has no Content-Length, so it ended only "
                             "when the connection closed: no second request can follow.")
KEPT_OPEN = gettext_noop("The request said \"Connection: close\", but the server kept the "
                         "connection open %(seconds)s seconds after its response.")
AFTER_RESPONSE = gettext_noop("%(extra)s more bytes came after the response to a "
                              "\"Connection: close\" request.")
BLOCKED = gettext_noop("While another client %(what)s, this request got no answer "
                       "within %(seconds)s seconds: the server waits on one connection at "
                       "a time.")
SILENT_CLIENT = gettext_noop("stayed connected without sending anything")
HALF_SENT = gettext_noop("stopped halfway through its request")
NOT_ANSWERED = gettext_noop("While another client %(what)s, this request got no answer: "
                            "%(reason)s")


# --- stage 7: HEAD ------------------------------------------------------------------------

def _head(ctx: Context) -> tuple[Conn, Response]:
    conn = ctx.connect()
    conn.send(request(ctx, ctx.files.html.path, "HEAD"))
    return conn, conn.read_response(head_request=True)


def head_like_get(ctx: Context) -> Failure | None:
    got = fetch(ctx, ctx.files.html.path)
    _, head = _head(ctx)
    if head.status != got.status:
        return at_status(head, Message(STATUS_DIFFERS, got=status_line(head),
                                       expected=status_line(got)),
                         status_line(got) + "\\r\\n")
    get_type, head_type = got.header("Content-Type"), head.header("Content-Type")
    if head_type != get_type:
        return at_header(head, "Content-Type",
                         Message(TYPE_DIFFERS, got=head_type or "", expected=get_type or ""),
                         f"Content-Type: {get_type}\\r\\n")
    length = len(got.body)
    expected = f"Content-Length: {length}\\r\\n"
    value = head.header("Content-Length")
    if value is None:
        # A GET framed by chunks (or by closing) has no Content-Length for HEAD to
        # repeat: then HEAD may omit it (RFC 9110 §8.6, §9.3.2).
        if got.framing != "length":
            return None
        return at_header(head, "Content-Length", Message(NO_LENGTH, length=length), expected)
    if value.strip() != str(length):
        failure = at_header(head, "Content-Length",
                            Message(LENGTH_DIFFERS, got=value, length=length), expected)
        return replace(failure, offset=value_offset(head, "Content-Length"))
    return None


def head_has_no_body(ctx: Context) -> Failure | None:
    conn, head = _head(ctx)
    return extra_bytes(conn, head, HEAD_BODY)


# --- stage 8: keep-alive -------------------------------------------------------------------

def two_requests_one_connection(ctx: Context) -> Failure | None:
    conn = ctx.connect()
    conn.send(request(ctx, ctx.files.html.path, close=False))
    first = conn.read_response()
    options = [o.strip().lower() for o in ",".join(first.head.all("Connection")).split(",")]
    if "close" in options:
        return at_header(first, "Connection", Message(SAYS_CLOSE),
                         "(no \"Connection: close\")")
    if first.framing == "close":
        return at_header(first, "Content-Length", Message(ENDS_BY_CLOSE),
                         f"Content-Length: {len(first.body)}\\r\\n")
    second_file = ctx.files.css
    try:
        conn.send(request(ctx, second_file.path))
        second = conn.read_response()
    except CheckFailed as failed:
        template = failed.failure.message.template
        if template in (CLOSED_EMPTY, RESET) or failed.failure.side == "request":
            raise CheckFailed(replace(reworded(failed, Message(CLOSED_AFTER_FIRST)).failure,
                                      side="response", offset=None)) from None
        if template == SILENT:
            seconds = failed.failure.message.params.get("seconds", "")
            raise reworded(failed, Message(NO_ANSWER_SECOND, seconds=seconds)) from None
        raise
    if second.body != second_file.content:
        return Failure(Message(NOT_SECOND, path=second_file.path),
                       expected=second_file.content[:200].decode("utf-8", "replace"),
                       received=window(second.raw, second.body_offset), sent=second.sent,
                       offset=second.body_offset)
    return None


def close_is_honoured(ctx: Context) -> Failure | None:
    conn = ctx.connect()
    conn.send(request(ctx, ctx.files.css.path))
    response = conn.read_response()
    extra = extra_bytes(conn, response, AFTER_RESPONSE, CLOSE_WAIT)
    if extra:
        return extra
    if conn.eof:
        return None
    offset = len(response.raw)
    return Failure(Message(KEPT_OPEN, seconds=CLOSE_WAIT), expected="(the connection closed)",
                   received=window(response.raw, offset), sent=response.sent,
                   offset=offset, hint="never-closes")


# --- stage 9: a slow client blocks no one ----------------------------------------------------

def _quick_while_slow(ctx: Context, slow_part: bytes, what: str) -> Failure | None:
    """Connect a slow client (it sends ``slow_part``, then nothing more until the
    verdict), then a quick one with a whole request: the quick one must be answered."""
    slow = ctx.connect()
    if slow_part:
        slow.send(slow_part)
    quick = ctx.connect()
    quick.send(request(ctx, ctx.files.css.path))
    check_deadline = ctx.deadline
    ctx.deadline = min(check_deadline, time.monotonic() + QUICK_TIMEOUT)
    try:
        quick.read_response()
    except CheckFailed as failed:
        if quick.received:
            raise  # an answer that breaks a rule: its failure points at the byte
        if failed.failure.message.template == SILENT:
            seconds = failed.failure.message.params.get("seconds", QUICK_TIMEOUT)
            message = Message(BLOCKED, what=Message(what), seconds=seconds)
        else:
            message = Message(NOT_ANSWERED, what=Message(what),
                              reason=failed.failure.message)
        raise reworded(failed, message) from None
    finally:
        ctx.deadline = check_deadline
        slow.close()
    return None


def silent_client(ctx: Context) -> Failure | None:
    return _quick_while_slow(ctx, b"", SILENT_CLIENT)


def half_request(ctx: Context) -> Failure | None:
    # The request line and the Host line, and no more: the head never ends.
    whole = request(ctx, ctx.files.html.path)
    host_end = whole.index(b"\r\n", whole.index(b"\r\n") + 2) + 2
    return _quick_while_slow(ctx, whole[:host_end], HALF_SENT)


STAGE_7 = (
    Check("same-head", gettext_noop("HEAD gets GET's status, Content-Type and "
                                    "Content-Length"), head_like_get),
    Check("no-body", gettext_noop("HEAD gets no body"), head_has_no_body),
)
STAGE_8 = (
    Check("two-requests", gettext_noop("Answers two requests on one connection"),
          two_requests_one_connection),
    Check("close", gettext_noop("Closes the connection after \"Connection: close\""),
          close_is_honoured, timeout=6.0),
)
STAGE_9 = (
    Check("silent-client", gettext_noop("Answers while another client sends nothing"),
          silent_client, timeout=QUICK_TIMEOUT + 1.0),
    Check("half-request", gettext_noop("Answers while another client sends half a "
                                       "request"), half_request, timeout=QUICK_TIMEOUT + 1.0),
)
STAGE_10 = checks_guard.STAGE_10
STAGE_11 = checks_guard.STAGE_11
STAGE_12 = checks_guard.STAGE_12
