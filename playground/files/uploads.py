"""Multipart uploads that keep each file's folder path, and the early size check.

The API's upload contract is "each file's relative path is its file name"
(``FormData.append("files", file, "css/site.css")``). Django's parser strips everything
up to the last ``/`` of an uploaded file name, which would flatten a folder upload, so
this middleware parses multipart bodies with a parser that keeps the path. The path is
still untrusted: it is checked by ``safepaths.resolve_under`` before anything is written.

It must run before ``CsrfViewMiddleware``, which reads ``request.POST`` and so would parse
the body the Django way first.
"""

from __future__ import annotations

import html

from django.core.exceptions import TooManyFilesSent
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.utils.encoding import force_str
from django.utils.translation import gettext


class PathKeepingMultiPartParser(MultiPartParser):
    """Sets ``relative_path`` on each uploaded file: the name exactly as sent.

    Django cuts a name down to its last segment twice (in the parser, and again in
    ``UploadedFile.name``) and drops a file named ``..``; we keep the whole name so that
    safepaths can accept ``css/a.css`` and refuse ``../x`` with a message.
    """

    _full_name = ""

    def sanitize_file_name(self, file_name: str) -> str | None:
        self._full_name = html.unescape(file_name)
        # Django's short name is still used for its temp file; never let it drop a file.
        return super().sanitize_file_name(file_name) or "unnamed"

    def handle_file_complete(self, old_field_name, counters) -> None:
        field = force_str(old_field_name, self._encoding, errors="replace")
        before = len(self._files.getlist(field))
        super().handle_file_complete(old_field_name, counters)
        files = self._files.getlist(field)
        if len(files) > before:
            files[-1].relative_path = self._full_name


class KeepUploadPathsMiddleware:
    """Parse multipart POST bodies with PathKeepingMultiPartParser.

    A body Django refuses (too many files, malformed) is remembered in
    ``request.upload_error`` as ``(status, message)`` for the view to report as JSON.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.upload_error = None
        if request.method == "POST" and request.content_type == "multipart/form-data":
            self._parse(request)
        return self.get_response(request)

    @staticmethod
    def _parse(request) -> None:
        from django.conf import settings

        parser = PathKeepingMultiPartParser(
            request.META, request, request.upload_handlers, request.encoding)
        try:
            request._post, request._files = parser.parse()
        except TooManyFilesSent:
            request._mark_post_parse_error()
            # LocaleMiddleware runs before this one: the request's language is active.
            request.upload_error = (
                413, gettext("too many files in one upload: at most %(limit)s per sandbox")
                % {"limit": settings.PLAYGROUND_MAX_FILES})
        except MultiPartParserError as exc:
            request._mark_post_parse_error()
            request.upload_error = (400, gettext("the upload could not be read: %(detail)s")
                                    % {"detail": exc})
