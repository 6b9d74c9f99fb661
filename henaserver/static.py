"""Static files: URL path -> file under the root, and its type.

``StaticFiles`` is the handler the server runs in its normal mode: a function from a
``Request`` to a ``Response``. Path resolution is the security boundary of the whole
server, so it is written out step by step in ``path_names`` and ``resolve_path``.
What to answer about the file found (412, 304, 206, 416 or all of it) is decided by
the pure functions of ``conditional.py``.
"""

from __future__ import annotations

import errno
import functools
import mimetypes
import os
import re
import stat
from collections import OrderedDict
from typing import BinaryIO, Final
from urllib.parse import unquote_to_bytes, urlsplit

from .conditional import (
    byte_range,
    conditions,
    file_info,
    if_range_allows,
    not_modified,
    precondition_failed,
)
from .http import HTTPError, Request
from .limits import DEFAULT_LIMITS, Limits
from .pages import not_found, page_response
from .response import Response

SERVED_METHODS: Final = ("GET", "HEAD", "OPTIONS")
ALLOW: Final = ("Allow", ", ".join(SERVED_METHODS))

# The stdlib table (builtin entries only, so every machine answers the same: a plain
# MimeTypes() does not read /etc/mime.types) misses or dates some web types.
TYPE_OVERRIDES: Final = {
    ".html": "text/html", ".htm": "text/html", ".css": "text/css",
    ".js": "text/javascript", ".mjs": "text/javascript",  # RFC 9239
    ".json": "application/json", ".map": "application/json",
    ".webmanifest": "application/manifest+json", ".txt": "text/plain",
    ".md": "text/markdown", ".svg": "image/svg+xml", ".webp": "image/webp",
    ".avif": "image/avif", ".ico": "image/vnd.microsoft.icon", ".wasm": "application/wasm",
    ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf",
    ".xml": "application/xml",
}
# Types whose bodies are text: they get "; charset=utf-8" so non-ASCII text decodes
# the same in every browser.
TEXT_LIKE: Final = frozenset({"application/json", "application/manifest+json",
                              "application/xml", "image/svg+xml", "text/javascript"})
FALLBACK_TYPE: Final = "application/octet-stream"
_MIMETYPES: Final = mimetypes.MimeTypes()

# What a failed open of a file found a moment ago means for the client: gone or swapped
# for a symlink since the lookup (ELOOP: O_NOFOLLOW) is a 404, unreadable a 403, and out
# of descriptors a 503 to retry (the connection closes, freeing one). None is a bug of
# the server, so none is a 500 with a traceback.
OPEN_FAILURES: Final = {
    errno.ENOENT: (404, "the file is no longer there"),
    errno.ENOTDIR: (404, "the file is no longer there"),
    errno.ELOOP: (404, "the file was replaced by a symbolic link"),
    errno.EACCES: (403, "the server may not read this file"),
    errno.EPERM: (403, "the server may not read this file"),
    errno.EMFILE: (503, "the server has too many files open; try again"),
    errno.ENFILE: (503, "the system has too many files open; try again"),
}
INVALID_ESCAPE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
MANY_SLASHES: Final = re.compile(r"//+")


@functools.lru_cache(maxsize=256)
def content_type(path: str) -> str:
    """The Content-Type for a file name, with a charset on text types."""
    extension = os.path.splitext(path)[1].lower()
    guessed = TYPE_OVERRIDES.get(extension) or _MIMETYPES.guess_type(path)[0]
    kind = guessed or FALLBACK_TYPE
    if kind.startswith("text/") or kind in TEXT_LIKE:
        return f"{kind}; charset=utf-8"
    return kind


def split_target(target: str) -> tuple[str, str]:
    """Split a request target into (path, query) (RFC 9112 section 3.2).

    origin-form "/a?b" is the usual case. A server MUST accept absolute-form
    "http://host/a?b" (section 3.2.2); only its path and query are used, so no target
    can name a file outside the root by naming a host.
    """
    if target.startswith("/"):
        path, _, query = target.partition("?")
        return path, query
    if target.lower().startswith(("http://", "https://")):
        try:
            parts = urlsplit(target)
        except ValueError:  # "http://p]x/": urlsplit refuses an unbalanced IPv6 bracket
            raise HTTPError(400, "malformed absolute-form request target",
                            close=False) from None
        return parts.path or "/", parts.query
    raise HTTPError(400, "the request target must be a path starting with /", close=False)


def path_names(url_path: str) -> list[str]:
    """The names a URL path is made of, after the checks that reject visibly instead of
    "fixing" the input:
    1. percent-decode exactly once; a broken escape is an error;
    2. an encoded slash or any backslash could change which directory a name is in;
    3. NUL ends strings in the OS and truncates names;
    4. ".." segments are refused, not normalised away.
    Empty and "." segments name the same directory, so they are dropped.
    Raises HTTPError(400) for forbidden input.
    """
    if INVALID_ESCAPE.search(url_path):
        raise HTTPError(400, "invalid percent-escape in path", close=False)
    lowered = url_path.lower()
    if "%2f" in lowered or "%5c" in lowered or "\\" in url_path:
        raise HTTPError(400, "encoded slash or backslash in path", close=False)
    decoded = os.fsdecode(unquote_to_bytes(url_path))
    if "\x00" in decoded:
        raise HTTPError(400, "NUL byte in path", close=False)
    names = [segment for segment in decoded.split("/") if segment not in ("", ".")]
    if ".." in names:
        raise HTTPError(400, "'..' in path: paths may not climb out of the root", close=False)
    return names


def resolve_path(root: str, url_path: str) -> tuple[str, os.stat_result] | None:
    """Map a URL path to a file system path inside ``root`` (an absolute real path) and
    its stat, or None when nothing is there or the path leads outside the root.

    A path ending in "/" names its directory's index.html. Raises HTTPError(400) for
    forbidden input (``path_names``).

    The root is a real path and no name is "..", so only a symlink can lead outside.
    So walk down one name at a time with lstat, which does not follow symlinks, and
    resolve fully (realpath, then check containment) only when a symlink is met. The
    last lstat is also the file's stat: a file in the root costs one system call, a
    file in a sub-directory two. Nothing is cached, so a changed file or a directory
    swapped for a symlink is seen on the very next request.
    """
    names = path_names(url_path)
    if url_path.endswith("/") or not names:  # as asks_for_index, without a second parse
        names.append("index.html")
    path = root
    for name in names:
        path = os.path.join(path, name)
        try:
            st = os.lstat(path)
        except (OSError, ValueError):
            return None  # does not exist (or a name too long): the caller answers 404
        if stat.S_ISLNK(st.st_mode):
            real = contained(root, os.path.join(root, *names))
            return None if real is None else stat_or_none(real)
    return path, st


def contained(root: str, path: str) -> str | None:
    """The real path of ``path`` if it lies inside ``root``, else None.

    Symlinks are resolved first: a link that leads outside is treated as missing, so
    nothing about the outside is leaked.
    """
    real = os.path.realpath(path)
    return real if os.path.commonpath([root, real]) == root else None


def stat_or_none(path: str) -> tuple[str, os.stat_result] | None:
    """``path`` and its stat (following symlinks), or None when nothing is there."""
    try:
        return path, os.stat(path)
    except (OSError, ValueError):
        return None


def asks_for_index(url_path: str) -> bool:
    """Whether a URL path names a directory itself ("/", "/sub/", "/."), which
    ``resolve_path`` answers with the directory's index.html."""
    return url_path.endswith("/") or not path_names(url_path)


def open_file(path: str) -> tuple[BinaryIO, os.stat_result]:
    """Open a file ``resolve_path`` found, and its stat taken from the open descriptor.

    O_NOFOLLOW: the last name was checked to be no symlink (or resolved inside the root);
    if it was swapped for one since, the open fails instead of following it. O_NONBLOCK:
    a name swapped for a FIFO must not block the server's one thread. The stat of the
    descriptor describes exactly the file whose bytes are sent, and must be a regular
    file. A failure is an ``HTTPError`` (``OPEN_FAILURES``); any other OSError is a real
    fault (500)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        if error.errno not in OPEN_FAILURES:
            raise
        status, reason = OPEN_FAILURES[error.errno]
        raise HTTPError(status, reason, close=status == 503,
                        headers=(("Retry-After", "1"),) if status == 503 else ()) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise HTTPError(404, "the file was replaced by something that is not a file",
                            close=False)
        return os.fdopen(fd, "rb"), st
    except BaseException:
        os.close(fd)
        raise


def single_slashes(url_path: str) -> str:
    """``url_path`` with every run of slashes made one.

    A redirect's Location is what a browser reads as a URL reference: "//dir/" would be
    scheme-relative, naming the host "dir" (RFC 3986 section 4.2), so a request for
    "//evil.example" must never be answered with it. nginx (merge_slashes, on by default)
    and Apache (MergeSlashes, on by default since 2.4.39) merge slashes before they
    build a directory redirect; so do we. It names the same file: empty segments are
    dropped when the path is resolved.
    """
    return MANY_SLASHES.sub("/", url_path)


class StaticFiles:
    """The static file handler: GET and HEAD for files under ``root``."""

    def __init__(self, root: str, limits: Limits = DEFAULT_LIMITS, *,
                 detect_types: bool = True) -> None:
        self.root = os.path.realpath(root)
        self.limits = limits
        # False is the tutorial's early server, which labels everything text/html.
        self.detect_types = detect_types
        self._cache: OrderedDict[str, tuple[tuple[int, int, int], bytes]] = OrderedDict()
        self._cache_bytes = 0

    def __call__(self, request: Request) -> Response:
        method = request.head.method
        if method == "OPTIONS":
            return Response(204, [ALLOW])
        if method not in SERVED_METHODS:
            # 405 for methods we know but do not allow on files; the parser's caller
            # answers 501 for methods it does not know at all.
            raise HTTPError(405, f"{method} is not allowed here: this server only "
                                 "serves files", close=False, headers=(ALLOW,))
        url_path, query = split_target(request.head.target)
        found = resolve_path(self.root, url_path)
        if found is None:
            return not_found(url_path)
        path, st = found
        if stat.S_ISDIR(st.st_mode):
            if asks_for_index(url_path):
                # resolve_path already added "index.html" and found a directory there:
                # no page. Adding a "/" would name the same thing again ("/" -> "//",
                # "/sub/" -> "/sub//": a redirect loop), so there is nothing to redirect.
                return not_found(url_path)
            # RFC 9110 section 15.4.2: a permanent redirect to the canonical URL, so
            # relative links inside the directory's index.html resolve.
            location = single_slashes(url_path) + "/" + (f"?{query}" if query else "")
            return page_response(301, f"Moved to {location}", (("Location", location),))
        if not stat.S_ISREG(st.st_mode):
            return not_found(url_path)
        return self.file_response(request, path, st)

    def file_response(self, request: Request, path: str, st: os.stat_result) -> Response:
        data, file = None, None
        if st.st_size <= self.limits.small_file:
            data = self._read_small(path, st)
        else:
            file, st = open_file(path)  # sent from this descriptor: describe its file
        response = None
        try:
            response = self._answer(request, path, st, data, file)
        finally:
            if file is not None and (response is None or response.file is not file):
                file.close()  # not sent (HEAD, 304, 412, or an error): close it now
        return response

    def _answer(self, request: Request, path: str, st: os.stat_result, data: bytes | None,
                file: BinaryIO | None) -> Response:
        # The file may change between stat and read: describe the bytes actually read.
        info = file_info(st.st_mtime_ns, len(data) if data is not None else st.st_size)
        head = request.head
        fields = conditions(head)
        if precondition_failed(fields, info):
            raise HTTPError(412, "the file no longer matches the If-Match or "
                                 "If-Unmodified-Since condition", close=False)
        if not_modified(fields, info):
            # RFC 9110 section 15.4.5: a 304 carries those of Cache-Control,
            # Content-Location, Date, ETag, Expires and Vary a 200 would have (here ETag;
            # the connection adds Date) and SHOULD NOT carry other representation
            # metadata: no Content-Type, and no Last-Modified, which is only useful
            # when there is no ETag.
            return Response(304, [("ETag", info.etag)])
        headers = [
            ("Content-Type", content_type(path) if self.detect_types else "text/html"),
            ("Last-Modified", info.last_modified), ("ETag", info.etag),
            ("Accept-Ranges", "bytes"),
        ]
        first, last, status = 0, info.size - 1, 200
        range_header = head.get("Range")
        if range_header is not None and head.method == "GET" and if_range_allows(head, info):
            chosen = byte_range(range_header, info.size)
            if chosen is not None:
                first, last, status = *chosen, 206
                headers.append(("Content-Range", f"bytes {first}-{last}/{info.size}"))
        length = last - first + 1
        headers.append(("Content-Length", str(length)))
        if head.method == "HEAD":
            return Response(status, headers)
        if data is not None:
            return Response(status, headers, data[first:last + 1])
        return Response(status, headers, file=file, file_offset=first, file_length=length)

    def _read_small(self, path: str, st: os.stat_result) -> bytes:
        """Read a small file through a bounded cache validated by inode, size and mtime,
        so an edited or replaced file is served fresh on the very next request."""
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        cached = self._cache.get(path)
        if cached is not None and cached[0] == key:
            self._cache.move_to_end(path)
            return cached[1]
        file, _ = open_file(path)
        with file:
            data = file.read(self.limits.small_file + 1)
        if cached is not None:
            self._cache_bytes -= len(cached[1])
        self._cache[path] = (key, data)
        self._cache_bytes += len(data)
        while self._cache_bytes > self.limits.file_cache_bytes:
            _, (_, evicted) = self._cache.popitem(last=False)
            self._cache_bytes -= len(evicted)
        return data

