"""A sandbox's files over JSON (docs/api.md): list, upload (files, a folder or a zip),
read, write, delete, and the starter site.

Thin views: the rules for names, sizes and quotas live in sitefiles.py and storage.py;
refusals become ``{"error": ...}`` in errors.api.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.http import FileResponse, HttpRequest, JsonResponse
from django.utils.translation import gettext, ngettext

from ..errors import ApiError, api, json_body
from ..refusals import human_bytes
from ..sandboxes.ownership import get_for_method, get_owned
from . import starter
from .safepaths import BROKEN_UTF8, UnsafePath
from .sitefiles import CHUNK, WouldReplace, guess_type
from .storage import files_of, limits


def _tree(files) -> dict:
    """The listing, with usage counted from it (one walk of the disk). ``limits`` are
    the configured per-sandbox limits (docs/api.md), the same for every answer."""
    entries = files.entries()
    sizes = [entry["size"] for entry in entries if entry["kind"] == "file"]
    configured = limits()
    return {
        "files": entries,
        "usage": {"files": len(sizes), "bytes": sum(sizes)},
        "limits": {
            "max_file_bytes": configured.max_file_bytes,
            "max_sandbox_bytes": configured.max_sandbox_bytes,
            "max_files": configured.max_files,
        },
    }


def _check_length(request: HttpRequest, limit: int, too_large: str) -> None:
    """Refuse on the declared Content-Length before touching the body. (Under daphne
    the ASGI guard in playground/middleware.py has already refused anything above the request cap.)
    ``too_large`` is the translated message, with a ``%(limit)s`` placeholder."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ApiError(400, gettext("the Content-Length header is not a number")) from None
    if length > limit:
        raise ApiError(413, too_large % {"limit": human_bytes(limit, gettext)})


@api("GET", "POST")
def file_list(request: HttpRequest, sandbox_id: int) -> JsonResponse:
    files = files_of(get_for_method(request, sandbox_id),
                               for_writing=request.method == "POST")
    if request.method == "GET":
        return JsonResponse(_tree(files))
    _check_length(request, settings.PLAYGROUND_MAX_REQUEST_BYTES,
                  gettext("this upload is too large: the limit is %(limit)s"))
    if request.upload_error:
        status, message = request.upload_error
        raise ApiError(status, message)
    uploads = request.FILES.getlist("files")
    archives = request.FILES.getlist("archive")
    if uploads and archives:
        raise ApiError(400, gettext("send files or one zip archive, not both in the same "
                                    "request"))
    if len(archives) > 1:
        raise ApiError(400, gettext("send one zip archive at a time"))
    if not uploads and not archives:
        raise ApiError(400, gettext('no files received: use the multipart field "files" '
                                    '(or "archive" for a zip)'))
    # More files than PLAYGROUND_MAX_FILES never get here: settings ties
    # DATA_UPLOAD_MAX_NUMBER_FILES to it, and uploads.py has answered 413 already.
    if archives:
        # Like the starter site: files the zip would replace are named (409) and only
        # replaced when the upload says so (the form field overwrite=true).
        try:
            written = files.extract_zip(archives[0],
                                        replace=request.POST.get("overwrite") == "true")
        except WouldReplace as refused:
            raise _would_replace(refused.existing) from None
    else:
        written = files.write_many(
            (getattr(f, "relative_path", f.name), f.chunks()) for f in uploads)
    return JsonResponse({"written": written, **_tree(files)}, status=201)


def _check_url_is_utf8(request: HttpRequest) -> None:
    """Refuse a URL whose percent-escapes are not UTF-8 (``PUT files/%ff%fe.txt``).

    The ``path`` a view is given has lost them already: daphne decodes the URL with
    ``errors="replace"`` (U+FFFD), Django under WSGI escapes them again (``%FF``), and
    either would be stored as another name. So the URL as sent is decoded here, strictly.
    """
    scope = getattr(request, "scope", None)
    if scope is not None:  # ASGI: the path exactly as sent
        raw = unquote_to_bytes(scope.get("raw_path") or b"")
    else:  # WSGI: PATH_INFO holds the decoded bytes as latin-1
        raw = request.META.get("PATH_INFO", "").encode("latin-1", "replace")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UnsafePath(BROKEN_UTF8, name=repr(os.path.basename(
            raw.decode("utf-8", "backslashreplace"))[:80])) from None


@api("GET", "PUT", "DELETE")
def file_detail(request: HttpRequest, sandbox_id: int, path: str):
    files = files_of(get_for_method(request, sandbox_id),
                               for_writing=request.method == "PUT")
    _check_url_is_utf8(request)
    if request.method == "PUT":
        too_large = gettext("this file is too large: the limit is %(limit)s")
        _check_length(request, settings.PLAYGROUND_MAX_FILE_BYTES, too_large)
        existed = bool(files.existing([path]))
        # Streamed, never ``request.body``: the bytes go from Django's temporary file to
        # ours in CHUNK pieces, and the per-file limit is checked as they are counted.
        body = _Counted(iter(lambda: request.read(CHUNK), b""))
        files.write_many([(path, body)])
        return JsonResponse({"path": path, "size": body.count},
                            status=200 if existed else 201)
    missing = ApiError(404, gettext("there is no file %(name)s in this sandbox")
                       % {"name": repr(path)})
    if request.method == "DELETE":
        try:
            files.delete(path)
        except FileNotFoundError:
            raise missing from None
        return JsonResponse({"deleted": path})
    try:  # opened beneath the root, never by a path a running program could swap
        opened = files.open(path)
    except FileNotFoundError:
        raise missing from None
    # Sent as a download, never rendered: an uploaded page must not run scripts on the
    # playground's own origin (the browser editor reads it with fetch()).
    response = FileResponse(opened, content_type=guess_type(path),
                            as_attachment=True, filename=os.path.basename(path))
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


class _Counted:
    """The chunks of a body, counting its bytes as they pass."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.count = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.count += len(chunk)
            yield chunk


@api("POST")
def starter_site(request: HttpRequest, sandbox_id: int) -> JsonResponse:
    """Write the starter index.html, index.css and logo.png. Existing files with those
    names are only replaced with ``{"overwrite": true}`` (nothing is lost by accident)."""
    files = files_of(get_owned(request, sandbox_id))
    body = json_body(request)
    existing = files.existing(starter.FILES)
    if existing and not body.get("overwrite"):
        raise _would_replace(existing)
    written = files.write_many(starter.items())
    return JsonResponse({"written": written, **_tree(files)}, status=201)


# At most this many names in the question; the rest are counted ("and 12 more").
NAMES_SHOWN = 5


def _would_replace(existing: list[str]) -> ApiError:
    """The 409 that asks before files are replaced (its ``existing``: every name)."""
    names = ", ".join(existing[:NAMES_SHOWN])
    if len(existing) > NAMES_SHOWN:
        more = len(existing) - NAMES_SHOWN
        names = ngettext("%(names)s and %(count)s more file",
                         "%(names)s and %(count)s more files", more) % {
                             "names": names, "count": more}
    message = ngettext("%(names)s already exists in this sandbox; replace it?",
                       "%(names)s already exist in this sandbox; replace them?",
                       len(existing)) % {"names": names}
    return ApiError(409, message, existing=existing)
