"""The one place where errors become responses, and the small HTML pages they carry.

Every refusal in the server is an ``HTTPError`` with a status; ``error_response`` turns it
into a complete response with a status line, headers and a short HTML body, so a learner
reading the raw bytes always sees why. ``respond`` runs a handler and turns whatever it
raises into such a response.
"""

from __future__ import annotations

import html
import logging

from .http import KNOWN_METHODS, HTTPError, Request, reason_phrase
from .response import Handler, Response

log = logging.getLogger("henaserver")

PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{status} {phrase}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em;
color:#222}}h1{{color:#b03030}}code{{background:#f3f3f3;padding:0 .3em}}
footer{{margin-top:2em;color:#777;font-size:.9em}}</style></head>
<body><h1>{status} {phrase}</h1>
<p>{message}</p>
<footer>henaserver</footer>
</body></html>
"""


def html_page(status: int, message: str) -> bytes:
    """A short, self-contained HTML page explaining a status (message is escaped)."""
    return PAGE.format(status=status, phrase=html.escape(reason_phrase(status)),
                       message=html.escape(message)).encode("utf-8")


def page_response(status: int, message: str,
                  headers: tuple[tuple[str, str], ...] = (), *, close: bool = False) -> Response:
    """A response whose body is an HTML page about ``status``."""
    body = html_page(status, message)
    return Response(status, [("Content-Type", "text/html; charset=utf-8"),
                             ("Content-Length", str(len(body))), *headers], body, close=close)


def error_response(error: HTTPError) -> Response:
    """Turn any ``HTTPError`` into the response to send."""
    return page_response(error.status, error.reason, error.headers, close=error.close)


def not_found(path: str) -> Response:
    """The friendly 404 page: says which path was asked for and what to check."""
    return page_response(
        404, f"There is no file at {path} in this server's document root. Check the "
             "spelling and the letter case, and that the file was uploaded.")


SERVER_ERROR = HTTPError(500, "The server failed while handling this request; "
                              "its log has the details.")


def respond(handler: Handler, request: Request, refusal: HTTPError | None = None,
            client: str = "") -> Response:
    """The response to a complete request: the handler's, or the page of the error in
    its way: a ``refusal`` decided while parsing (417), a method this server does not
    know (501, RFC 9110 section 15.6.2), an ``HTTPError`` the handler raised, or any
    other exception (500, its traceback logged: a bug in a handler must cost one
    response, never the server)."""
    head = request.head
    try:
        if refusal is not None:
            raise refusal
        if head.method not in KNOWN_METHODS:
            raise HTTPError(501, f"the method {head.method} is not implemented", close=False)
        return handler(request)
    except HTTPError as error:
        return error_response(error)
    except Exception:
        log.exception("error while handling %s %s from %s", head.method, head.target, client)
        return error_response(SERVER_ERROR)
