"""Stages 10-12: a server that guards itself and saves work (docs/checks.md).

10. A malformed request gets 400 Bad Request, and the server keeps serving
    (RFC 9112 §3, §3.2, §5.1).
11. Never a file from outside the folder: the run's secret, written next to the folder
    (inputs.py), and /etc/passwd, asked for with "..", percent-encoded dots and
    slashes, an absolute-form target and a doubled slash (RFC 9110 §17.3).
12. A validator sent back (ETag in If-None-Match, Last-Modified in If-Modified-Since)
    gets 304 Not Modified with no body; one that does not match gets the file
    (RFC 9110 §8.8, §13.1.2, §13.1.3, §15.4.5).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from email.utils import formatdate, parsedate_to_datetime
from urllib.parse import quote

from playground.refusals import Message, gettext_noop

from .checks_early import fetch, request
from .client import Conn, Response, window
from .context import Check, Context
from .results import CheckFailed, Failure
from .verdicts import (
    at_status,
    before_empty_line,
    extra_bytes,
    first_difference,
    reworded,
    status_line,
)

PASSWD = "/etc/passwd"
# A line of any passwd file: the superuser's (when the server's /etc is not ours).
ROOT_LINE = re.compile(rb"root:[^:\n]*:0:0:")

# --- messages ------------------------------------------------------------------------------

NOT_400 = gettext_noop("A malformed request (%(what)s) got \"%(got)s\": it should get "
                       "400 Bad Request.")
NO_400 = gettext_noop("A malformed request (%(what)s) got no answer: %(reason)s It should "
                      "get 400 Bad Request.")
STOPPED_SERVING = gettext_noop("After the malformed request (%(what)s), the server did not "
                               "answer the next request: %(reason)s")
BAD_LINE = gettext_noop("no space between the method and the path")
NO_HOST = gettext_noop("an HTTP/1.1 request without a Host header")
SPACE_COLON = gettext_noop("a space between a header name and its colon")

LEAKED = gettext_noop("The server sent %(file)s, a file outside its folder, for the path "
                      "%(path)s: it must resolve the path and refuse any that leaves its "
                      "folder.")
SECRET_FILE = gettext_noop("the check's secret file")
FAILED_ON = gettext_noop("The path %(path)s got \"%(got)s\": a path outside the folder "
                         "should get a 4xx answer (404, 403 or 400), not a server error.")
NO_ANSWER_ON = gettext_noop("The path %(path)s got no answer: %(reason)s A path outside "
                            "the folder should get a 4xx answer (404, 403 or 400).")

NO_VALIDATOR = gettext_noop("The response has neither ETag nor Last-Modified: without a "
                            "validator a client cannot ask \"has it changed?\", so no "
                            "request can be answered 304.")
NOT_304 = gettext_noop("%(field)s: %(value)s, the file's own validator, got \"%(got)s\": "
                       "it should get 304 Not Modified.")
BODY_304 = gettext_noop("%(extra)s bytes of body followed the head of a 304 response: a "
                        "304 never has a body.")
NOT_200 = gettext_noop("%(field)s: %(value)s, which does not match the file, got "
                       "\"%(got)s\": it should get 200 OK and the file.")
WRONG_FILE = gettext_noop("%(field)s: %(value)s, which does not match the file, got a "
                          "body that is not the file.")


# --- stage 10: malformed requests -------------------------------------------------------------

@dataclass(frozen=True)
class Malformed:
    """A malformed request: its bytes, and where the byte that breaks it is."""

    data: bytes
    offset: int


def _bad_request_line(ctx: Context) -> Malformed:
    good = request(ctx, ctx.files.html.path)
    return Malformed(b"GET" + good[4:], 3)  # "GET/chk-….html HTTP/1.1": no SP


def _no_host(ctx: Context) -> Malformed:
    good = request(ctx, ctx.files.html.path)
    host_start = good.index(b"\r\nHost: ") + 2
    data = good[:host_start] + good[good.index(b"\r\n", host_start) + 2:]
    return Malformed(data, len(data) - 2)  # the head ends, and no Host came


def _space_before_colon(ctx: Context) -> Malformed:
    good = request(ctx, ctx.files.html.path)
    data = good[:-2] + b"Accept : */*\r\n\r\n"
    return Malformed(data, len(good) - 2 + len(b"Accept"))


def _answers_400(make: Callable[[Context], Malformed], what: str) -> Callable[
        [Context], Failure | None]:
    def check(ctx: Context) -> Failure | None:
        bad = make(ctx)
        conn = ctx.connect()
        try:
            conn.send(bad.data)
            response = conn.read_response()
        except CheckFailed as failed:
            if conn.received:
                raise  # a response that breaks a rule: its failure points at the byte
            # No response bytes: point at the request's byte that should have been refused.
            raise CheckFailed(replace(
                reworded(failed, Message(NO_400, what=Message(what),
                                         reason=failed.failure.message)).failure,
                expected="HTTP/1.1 400 Bad Request\\r\\n", side="request",
                offset=bad.offset, received=window(bad.data, bad.offset))) from None
        if response.status != 400:
            return at_status(response, Message(NOT_400, what=Message(what),
                                               got=status_line(response)),
                             "HTTP/1.1 400 Bad Request\\r\\n")
        conn.close()
        after = None
        try:
            after = ctx.connect()
            after.send(request(ctx, ctx.files.html.path))
            after.read_response()
        except CheckFailed as failed:
            if after is not None and after.received:
                raise  # it answers, but breaks a rule of an earlier stage: that byte
            raise reworded(failed, Message(STOPPED_SERVING, what=Message(what),
                                           reason=failed.failure.message)) from None
        return None
    return check


# --- stage 11: never outside the folder ---------------------------------------------------------

@dataclass(frozen=True)
class Escape:
    """One way out of the folder: the request target, and the file it aims at."""

    target: str
    secret: bool   # True: the run's secret; False: /etc/passwd


# "../" beyond the folder's depth: a program in a sandbox may see its folder at another,
# deeper path than the checker does, and a "../" too many stays at /.
CLIMB_MARGIN = 6


def _climb(ctx: Context) -> str:
    """Enough "../" to reach / from the folder, wherever the server sees it."""
    depth = len(os.path.realpath(ctx.target.docroot).strip("/").split("/"))
    return "../" * (depth + CLIMB_MARGIN)


def _passwd_line() -> bytes:
    """The first line of the checker's own /etc/passwd (b"" when unreadable)."""
    try:
        with open(PASSWD, "rb") as f:
            return f.readline().strip()
    except OSError:
        return b""


def _leak_at(ctx: Context, escape: Escape, body: bytes) -> int | None:
    """Where the aimed-at file's content starts in ``body``, or None."""
    if escape.secret:
        at = body.find(ctx.files.secret.content.strip())
        return at if at >= 0 else None
    line = _passwd_line()
    at = body.find(line) if line else -1
    if at < 0 and (found := ROOT_LINE.search(body)):
        at = found.start()
    return at if at >= 0 else None


def _stays_inside(escapes: Callable[[Context], list[Escape]]) -> Callable[
        [Context], Failure | None]:
    def check(ctx: Context) -> Failure | None:
        for escape in escapes(ctx):
            failure = _try_escape(ctx, escape)
            if failure:
                return failure
        return None
    return check


def _try_escape(ctx: Context, escape: Escape) -> Failure | None:
    conn = ctx.connect()
    conn.send(request(ctx, escape.target))
    try:
        response = conn.read_response()
    except CheckFailed as failed:
        if conn.received:
            raise
        raise reworded(failed, Message(NO_ANSWER_ON, path=escape.target,
                                       reason=failed.failure.message)) from None
    finally:
        conn.close()
    at = _leak_at(ctx, escape, response.body)
    if at is not None:
        offset = response.body_offset + at
        name = Message(SECRET_FILE) if escape.secret else PASSWD
        return Failure(Message(LEAKED, file=name, path=escape.target),
                       expected="HTTP/1.1 404 Not Found\\r\\n",
                       received=window(response.raw, offset), sent=response.sent,
                       offset=offset)
    if response.status >= 500:
        return at_status(response, Message(FAILED_ON, path=escape.target,
                                           got=status_line(response)),
                         "HTTP/1.1 404 Not Found\\r\\n")
    return None


def _secret_and_passwd(ctx: Context, secret: str, passwd: str) -> list[Escape]:
    out = [Escape(secret, True)] if ctx.files.secret_path else []
    return [*out, Escape(passwd, False)]


def dot_dot(ctx: Context) -> list[Escape]:
    name = ctx.files.secret.name
    escapes = []
    if ctx.files.secret_path:
        subfolder = ctx.files.nested.name.split("/")[0]
        escapes += [Escape(f"/../{name}", True), Escape(f"/{subfolder}/../../{name}", True)]
    return [*escapes, Escape("/" + _climb(ctx) + "etc/passwd", False)]


def encoded(ctx: Context) -> list[Escape]:
    name = ctx.files.secret.name
    climb = _climb(ctx)
    out = _secret_and_passwd(ctx, f"/%2e%2e/{name}",
                             "/" + climb.replace("..", "%2e%2e") + "etc/passwd")
    out += _secret_and_passwd(ctx, f"/..%2f{name}",
                              "/" + climb.replace("/", "%2f") + "etc/passwd")
    return out


def absolute(ctx: Context) -> list[Escape]:
    host = ctx.target.host
    origin = f"http://{f'[{host}]' if ':' in host else host}:{ctx.target.port}"
    name = ctx.files.secret.name
    out = _secret_and_passwd(ctx, f"{origin}/../{name}", f"{origin}/{_climb(ctx)}etc/passwd")
    # "//etc/passwd": a path joined to the folder after dropping one "/" is still
    # absolute, and os.path.join keeps the absolute one. (The secret's path is
    # percent-encoded: a folder's name may hold a space, which would end the target.)
    out += _secret_and_passwd(ctx, "/" + quote(ctx.files.secret_path), "/" + PASSWD)
    return out


# --- stage 12: conditional requests ---------------------------------------------------------------

def _validated(ctx: Context) -> Response:
    """A GET of the .html file that carries a validator, or CheckFailed saying so."""
    response = fetch(ctx, ctx.files.html.path)
    if response.header("ETag") is None and response.header("Last-Modified") is None:
        offset = before_empty_line(response)
        raise CheckFailed(Failure(Message(NO_VALIDATOR),
                                  expected="ETag: \"…\"\\r\\n  or  Last-Modified: …\\r\\n",
                                  received=window(response.raw, offset),
                                  sent=response.sent, offset=offset))
    return response


def has_validator(ctx: Context) -> Failure | None:
    _validated(ctx)
    return None


def _conditional(ctx: Context, field: str, value: str) -> tuple[Conn, Response]:
    """The .html file asked for with ``field: value``, on a connection of its own."""
    conn = ctx.connect()
    conn.send(request(ctx, ctx.files.html.path, extra=f"{field}: {value}\r\n"))
    return conn, conn.read_response()


def _revalidates(field: str, validator: str) -> Callable[[Context], Failure | None]:
    """304 for the file's own ``validator`` (a response header) sent back in ``field``;
    a server without that validator is not asked (has_validator judges that)."""
    def check(ctx: Context) -> Failure | None:
        value = _validated(ctx).header(validator)
        if value is None:
            return None
        conn, response = _conditional(ctx, field, value)
        if response.status != 304:
            return at_status(response, Message(NOT_304, field=field, value=value,
                                               got=status_line(response)),
                             "HTTP/1.1 304 Not Modified\\r\\n")
        return extra_bytes(conn, response, BODY_304)
    return check


def _older(last_modified: str) -> str:
    """An HTTP-date a day before ``last_modified`` (or the epoch if it is no date)."""
    try:
        return formatdate(parsedate_to_datetime(last_modified).timestamp() - 86400,
                          usegmt=True)
    except (TypeError, ValueError, IndexError):
        return "Thu, 01 Jan 1970 00:00:00 GMT"


def changed_gets_file(ctx: Context) -> Failure | None:
    first = _validated(ctx)
    etag = first.header("ETag")
    if etag is not None:
        field, value = "If-None-Match", f'"chk-{ctx.files.token}-other"'
    else:
        field, value = "If-Modified-Since", _older(first.header("Last-Modified") or "")
    _, response = _conditional(ctx, field, value)
    if response.status != 200:
        return at_status(response, Message(NOT_200, field=field, value=value,
                                           got=status_line(response)), "HTTP/1.1 200 OK\\r\\n")
    if response.body != ctx.files.html.content:
        offset = response.body_offset + first_difference(response.body,
                                                         ctx.files.html.content)
        return Failure(Message(WRONG_FILE, field=field, value=value),
                       expected=ctx.files.html.content[:200].decode("utf-8", "replace"),
                       received=window(response.raw, offset), sent=response.sent,
                       offset=offset)
    return None


STAGE_10 = (
    Check("request-line", gettext_noop("400 for a malformed request line, then serves on"),
          _answers_400(_bad_request_line, BAD_LINE)),
    Check("no-host", gettext_noop("400 for an HTTP/1.1 request without Host, then serves "
                                  "on"), _answers_400(_no_host, NO_HOST)),
    Check("space-colon", gettext_noop("400 for a space before a header's colon, then "
                                      "serves on"),
          _answers_400(_space_before_colon, SPACE_COLON)),
)
STAGE_11 = (
    Check("dot-dot", gettext_noop("Refuses \"..\" in the path"), _stays_inside(dot_dot)),
    Check("encoded", gettext_noop("Refuses \"..\" and \"/\" written as %2e and %2f"),
          _stays_inside(encoded)),
    Check("absolute", gettext_noop("Refuses absolute-form targets and absolute paths"),
          _stays_inside(absolute)),
)
STAGE_12 = (
    Check("validator", gettext_noop("A file's response carries ETag or Last-Modified"),
          has_validator),
    Check("if-none-match", gettext_noop("304 for If-None-Match with the file's ETag"),
          _revalidates("If-None-Match", "ETag")),
    Check("if-modified-since", gettext_noop("304 for If-Modified-Since with the file's "
                                            "Last-Modified"),
          _revalidates("If-Modified-Since", "Last-Modified")),
    Check("changed", gettext_noop("200 and the file for a validator that does not match"),
          changed_gets_file),
)
