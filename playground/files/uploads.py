"""Multipart uploads that keep each file's folder path, and the early size check.

The API's upload contract is "each file's relative path is its file name"
(``FormData.append("files", file, "css/site.css")``). Django's parser strips everything
up to the last ``/`` of an uploaded file name, which would flatten a folder upload, so
this middleware parses multipart bodies with a parser that keeps the path. The path is
still untrusted: it is checked by ``safepaths.resolve_under`` before anything is written.

It must run before ``CsrfViewMiddleware``, which reads ``request.POST`` and so would parse
the body the Django way first.

Django also silently skips a part whose headers it cannot read (not UTF-8, no field
name): one file of an upload would be lost while the others are written, which breaks
"all or nothing". The parser counts the parts on the wire as it reads them and refuses
the upload if it kept fewer.
"""

from __future__ import annotations

import html

from django.core.exceptions import TooManyFilesSent
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.utils.encoding import force_str
from django.utils.translation import gettext

from ..refusals import gettext_noop


class PartsDropped(MultiPartParserError):
    """Django skipped a part it could not read."""


class _DelimiterCounter:
    """The request body as the parser reads it, counting the ``--boundary`` delimiters
    that pass (Django splits parts wherever it finds one), across read boundaries."""

    def __init__(self, stream, boundary: bytes) -> None:
        self.stream = stream
        self.delimiter = b"--" + boundary
        self.tail = b""  # the end of the last read, where a delimiter may begin
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        window = self.tail + data
        self.count += window.count(self.delimiter)
        # Keep less than a whole delimiter, so none is counted twice.
        self.tail = window[-(len(self.delimiter) - 1):]
        return data


class PathKeepingMultiPartParser(MultiPartParser):
    """Sets ``relative_path`` on each uploaded file: the name exactly as sent, and
    refuses (``PartsDropped``) a body of which Django skipped a part.

    Django cuts a name down to its last segment twice (in the parser, and again in
    ``UploadedFile.name``) and drops a file named ``..``; we keep the whole name so that
    safepaths can accept ``css/a.css`` and refuse ``../x`` with a message.
    """

    _full_name = ""
    _files_seen = 0

    def __init__(self, META, input_data, upload_handlers, encoding=None):  # noqa: N803
        super().__init__(META, input_data, upload_handlers, encoding)
        self._input_data = self._counter = _DelimiterCounter(input_data, self._boundary)

    def parse(self):
        post, files = super().parse()
        # n delimiters enclose n - 1 parts (the last is the closing "--boundary--").
        kept = self._files_seen + sum(len(values) for _name, values in post.lists())
        if kept < self._counter.count - 1:
            for _name, uploaded in files.lists():
                for file in uploaded:
                    file.close()
            raise PartsDropped(gettext_noop(
                "a part of the upload has headers that are not UTF-8 text, or no field "
                "name; nothing was written"))
        return post, files

    def sanitize_file_name(self, file_name: str) -> str | None:
        self._files_seen += 1
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
        except PartsDropped as exc:
            request._mark_post_parse_error()
            request.upload_error = (400, gettext(str(exc)))
        except MultiPartParserError as exc:
            request._mark_post_parse_error()
            request.upload_error = (400, gettext("the upload could not be read: %(detail)s")
                                    % {"detail": exc})
