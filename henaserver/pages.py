"""The one place where errors become responses, and the small HTML pages they carry.

Every refusal in the server is an ``HTTPError`` with a status; ``error_response`` turns it
into a complete response with a status line, headers and a short HTML body, so a learner
reading the raw bytes always sees why.
"""

from __future__ import annotations

import html

from .http import HTTPError, reason_phrase
from .response import Response

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
