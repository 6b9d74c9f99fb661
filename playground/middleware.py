"""Refuse request bodies that are too large before Django reads them.

Under ASGI, Django spools the whole request body to memory or disk before any middleware
or view runs, with no cap of its own (NOTES.md). This ASGI middleware sits in front of
Django: a declared ``Content-Length`` above the limit is answered 413 at once, and a body
that grows past the limit without one (chunked) is cut off: we answer 413 and tell Django
the client went away, so it never calls the view.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

from .language import request_language
from .refusals import human_bytes


class BodySizeLimitMiddleware:
    def __init__(self, app, limit: int | None = None):
        self.app = app
        self._limit = limit

    @property
    def limit(self) -> int:
        return self._limit if self._limit is not None else settings.PLAYGROUND_MAX_REQUEST_BYTES

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit
        declared = _content_length(scope)
        language = request_language(_header(scope, b"cookie"), _header(scope, b"accept-language"))
        if declared is not None and declared > limit:
            return await _refuse(send, limit, language)

        received = 0
        refused = False

        async def counting_receive():
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    await _refuse(send, limit, language)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if not refused:  # Django must not answer a request we already answered
                await send(message)

        await self.app(scope, counting_receive, guarded_send)


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


def _refusal_body(limit: int, language: str | None = None) -> bytes:
    with translation.override(language or settings.LANGUAGE_CODE):
        message = gettext("this upload is too large: a request may carry at most %(limit)s "
                          "(limit per sandbox: %(sandbox_limit)s)") % {
            "limit": human_bytes(limit, gettext),
            "sandbox_limit": human_bytes(settings.PLAYGROUND_MAX_SANDBOX_BYTES, gettext)}
    return json.dumps({"error": message}).encode()


async def _refuse(send, limit: int, language: str | None = None) -> None:
    body = _refusal_body(limit, language)
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]})
    await send({"type": "http.response.body", "body": body})


def install_daphne_guard() -> None:
    """Make daphne refuse a too-large declared Content-Length as soon as the headers
    arrive.

    Daphne (Twisted) reads the whole body into a temporary file before it calls any ASGI
    application, so the middleware above can only stop Django from reading it a second
    time. Twisted tells the request the declared length in ``gotLength()``, before the
    body: there we answer 413 and close the connection, which also stops reading.
    Bodies without a Content-Length (chunked) are still capped by the middleware.
    """
    try:
        from daphne.http_protocol import WebRequest
    except ImportError:  # another ASGI server: the middleware still applies
        return
    if getattr(WebRequest, "_playground_guard", False):
        return
    original = WebRequest.gotLength

    def gotLength(self, length):  # noqa: N802 (Twisted's name)
        original(self, length)
        limit = settings.PLAYGROUND_MAX_REQUEST_BYTES
        if length is not None and length > limit:
            def header(name: bytes, separator: bytes) -> str:
                values = self.requestHeaders.getRawHeaders(name) or [b""]
                return separator.join(values).decode("latin-1")

            body = _refusal_body(limit, request_language(header(b"cookie", b"; "),
                                                  header(b"accept-language", b", ")))
            self.channel.transport.write(
                b"HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n"
                b"Connection: close\r\n\r\n" + body)
            self.channel.transport.loseConnection()

    WebRequest.gotLength = gotLength
    WebRequest._playground_guard = True
