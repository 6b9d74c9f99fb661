"""Request bodies before Django reads them: refuse the too large, stream the rest.

Under ASGI, Django spools the whole request body to memory or disk before any middleware
or view runs, with no cap of its own (NOTES.md). ``BodySizeLimitMiddleware`` sits in
front of Django: a declared ``Content-Length`` above the limit is answered 413 at once,
and a body that grows past the limit without one (chunked) is cut off: we answer 413 and
tell Django the client went away, so it never calls the view. Under daphne both are
refused earlier still, as the bytes arrive (``install_daphne_guard``).

``StreamBodyFromDisk`` keeps the body out of memory. Daphne (Twisted) receives a body
into a temporary file, then copies all of it into the application's queue at once, as
8 KB messages: twenty parallel 20 MB uploads took the site from 79 to 877 MB, and most of
it stayed (freed in pieces, the heap cannot shrink); Twisted itself also read every
multipart POST whole to parse it for nobody. ``install_daphne_guard`` turns that parse
off and hands the file over to us instead, and the middleware reads it in ``BODY_CHUNK``
pieces only as Django asks for the next one (Django spools them to its own temporary
file, at most FILE_UPLOAD_MAX_MEMORY_SIZE in memory). bench/upload_memory.py measures it.
"""

from __future__ import annotations

import io
import json

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

from .language import request_language
from .refusals import human_bytes

# How much of a body is in memory at once, per request, on its way to Django.
BODY_CHUNK = 64 * 1024
# The scope extension under which the daphne hook passes the request's body file.
BODY_FILE = "playground.body_file"


class StreamBodyFromDisk:
    """Feed Django the body from the file daphne received it into, a chunk at a time.

    Without the daphne hook (another ASGI server, the test communicator) the scope has no
    body file and messages pass through unchanged.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        body = scope.get("extensions", {}).get(BODY_FILE) if scope["type"] == "http" else None
        if body is None:
            return await self.app(scope, receive, send)
        placeholder_seen = False

        async def receive_from_file():
            nonlocal placeholder_seen
            if not placeholder_seen:
                # Daphne still queues one empty, final body message: drop it (or pass on
                # a disconnect that came first).
                placeholder_seen = True
                message = await receive()
                if message["type"] != "http.request":
                    body.close()
                    return message
            if body.closed:
                return await receive()  # after the body: only http.disconnect comes
            # A blocking read on the event loop, as Django's own spooling write is: 64 KB
            # of a file the kernel has just written (page cache) takes microseconds.
            chunk = body.read(BODY_CHUNK)
            more = len(chunk) == BODY_CHUNK
            if not more:
                body.close()  # the last piece: the temporary file goes now
            return {"type": "http.request", "body": chunk, "more_body": more}

        try:
            await self.app(scope, receive_from_file, send)
        finally:
            body.close()


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
    """Make daphne refuse a too-large body as it arrives, and hand each request's body
    file to ``StreamBodyFromDisk``.

    Daphne (Twisted) reads the whole body into a temporary file before it calls any ASGI
    application, so the middleware above can only stop Django from reading it a second
    time. Twisted tells the request the declared length in ``gotLength()``, before the
    body, and hands it each piece of the body in ``handleContentChunk()``: past the
    limit (declared, or counted as a chunked body grows) we answer 413 and close the
    connection, which also stops reading; the temporary file is closed at once (it has
    no name: closing it frees the disk) and the request never reaches the application.

    These are Twisted's own (private) names: a Twisted without them fails here, at
    start-up, rather than silently spooling bodies again (pyproject.toml pins the
    range this was tried with).
    """
    try:
        from daphne.http_protocol import WebRequest
        from daphne.server import Server
    except ImportError:  # another ASGI server: the middleware still applies
        return
    if getattr(WebRequest, "_playground_guard", False):
        return
    missing = [name for name in ("gotLength", "handleContentChunk", "process")
               if not callable(getattr(WebRequest, name, None))]
    if not any(POST_PARSE_FLAG in getattr(cls, "__annotations__", {})
               for cls in WebRequest.__mro__):
        missing.append(POST_PARSE_FLAG)
    if missing:
        raise RuntimeError(
            "install_daphne_guard: this Twisted/daphne has no " + ", ".join(missing) +
            "; request bodies would be spooled without a limit. Use the versions in "
            "pyproject.toml, or adapt playground/middleware.py.")
    original = WebRequest.gotLength
    original_chunk = WebRequest.handleContentChunk
    original_process = WebRequest.process
    original_create = Server.create_application

    def create_application(self, protocol, scope):
        """Daphne's WebRequest.process() calls this with the whole body received (in
        ``protocol.content``, Twisted's temporary file, at offset 0), then copies what
        is left in ``content`` into the queue. Take the file and leave an empty one."""
        if isinstance(protocol, WebRequest) and scope.get("type") == "http" \
                and not protocol.content.closed:  # closed: daphne abandons the request
            body, protocol.content = protocol.content, io.BytesIO()
            scope["extensions"] = {**scope.get("extensions", {}), BODY_FILE: body}
        return original_create(self, protocol, scope)

    def gotLength(self, length):  # noqa: N802 (Twisted's name)
        original(self, length)
        # Twisted would also parse a multipart or form POST into ``request.args``,
        # reading the whole body into memory (and copying each part); daphne never
        # reads ``args``: Django parses the body, from disk.
        setattr(self, POST_PARSE_FLAG, False)
        self._playground_received = 0
        if length is not None and length > settings.PLAYGROUND_MAX_REQUEST_BYTES:
            _refuse_early(self)

    def handleContentChunk(self, data):  # noqa: N802 (Twisted's name)
        """A chunked body has no declared length: count it as it comes."""
        if getattr(self, "_playground_refused", False):
            return  # what was already in the read buffer when we closed
        self._playground_received = getattr(self, "_playground_received", 0) + len(data)
        if self._playground_received > settings.PLAYGROUND_MAX_REQUEST_BYTES:
            _refuse_early(self)
            return
        original_chunk(self, data)

    def process(self):
        if getattr(self, "_playground_refused", False):
            return None  # answered 413 already: the application never sees it
        return original_process(self)

    WebRequest.gotLength = gotLength
    WebRequest.handleContentChunk = handleContentChunk
    WebRequest.process = process
    Server.create_application = create_application
    WebRequest._playground_guard = True


# Twisted's flag for parsing a form POST into ``request.args`` (set per request).
POST_PARSE_FLAG = "_parsePOSTFormSubmission"


def _refuse_early(request) -> None:
    """Answer 413 on a daphne request's connection and close it (which stops reading),
    before the body is read: the same answer as the middleware's, in the request's
    language. The body received so far goes with its temporary file."""
    def header(name: bytes, separator: bytes) -> str:
        values = request.requestHeaders.getRawHeaders(name) or [b""]
        return separator.join(values).decode("latin-1")

    request._playground_refused = True
    limit = settings.PLAYGROUND_MAX_REQUEST_BYTES
    body = _refusal_body(limit, request_language(header(b"cookie", b"; "),
                                                 header(b"accept-language", b", ")))
    request.channel.transport.write(
        b"HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n"
        b"Connection: close\r\n\r\n" + body)
    request.channel.transport.loseConnection()
    request.content.close()
