"""Errors carry their HTTP status and become responses here, in one place.

API views raise ``ApiError(status, message)``; domain modules raise a ``Refusal`` (an
English template, its parameters and its status: refusals.py). The ``@api`` decorator
turns either into ``{"error": message}`` JSON, a refusal in the request's language. HTML
pages get a friendly template instead of a traceback (``handler404``/``handler500`` in
urls.py).
"""

from __future__ import annotations

import functools
import inspect
import json
import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse, RawPostDataException
from django.shortcuts import render
from django.utils.translation import gettext as _

from .refusals import Refusal, human_bytes

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, message: str, **extra) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def error_response(status: int, message: str, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def api(*methods: str):
    """Decorate an API view: allowed methods (405 JSON otherwise) and error mapping.
    Plain and ``async def`` views alike (the composer is async)."""

    def refuse(request: HttpRequest) -> JsonResponse | None:
        if request.method in methods:
            return None
        response = error_response(
            405, _("%(method)s is not allowed here; use %(allowed)s")
            % {"method": request.method, "allowed": ", ".join(methods)})
        response["Allow"] = ", ".join(methods)
        return response

    def decorate(view):
        if inspect.iscoroutinefunction(view):
            @functools.wraps(view)
            async def async_wrapper(request: HttpRequest, *args, **kwargs):
                refused = refuse(request)
                if refused is not None:
                    return refused
                try:
                    return await view(request, *args, **kwargs)
                except Exception as exc:  # noqa: BLE001 - mapped (or logged) below
                    return _error_for(request, exc)

            return async_wrapper

        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            refused = refuse(request)
            if refused is not None:
                return refused
            try:
                return view(request, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - mapped (or logged) below
                return _error_for(request, exc)

        return wrapper

    return decorate


def _error_for(request: HttpRequest, exc: Exception) -> JsonResponse:
    """The JSON answer for an exception an API view let through."""
    if isinstance(exc, ApiError):
        return error_response(exc.status, exc.message, **exc.extra)
    if isinstance(exc, Http404):
        return error_response(404, _("not found"))
    if isinstance(exc, RequestDataTooBig):  # body over DATA_UPLOAD_MAX_MEMORY_SIZE
        return error_response(413, _("the request body is too large: the limit is "
                                     "%(limit)s") % {"limit": human_bytes(
                                         settings.DATA_UPLOAD_MAX_MEMORY_SIZE, _)})
    # Refusals from the domain modules: English templates, shown translated.
    if isinstance(exc, Refusal):
        return error_response(exc.status, exc.translate(_), **exc.json)
    log.error("API error on %s %s", request.method, request.path, exc_info=exc)
    return error_response(500, _("something went wrong on the playground's side; "
                                 "the details are in its log"))


# No API body is more than a few levels deep (rules: {"rules": [{"match": {...}}]});
# past this, a body is refused before any view walks it (Python's own parser would
# raise RecursionError near 1,000, a 500).
MAX_JSON_DEPTH = 32


class BadJson(ValueError):
    """Client JSON that cannot be used: not JSON, too deep, or a lone surrogate. The
    message is the (translated) reason."""


def parse_json(raw: str | bytes | bytearray) -> object:
    """Client JSON, parsed and checked: the one guard for every JSON a client sends
    (API bodies here, traffic websocket messages in traffic/consumer.py). BadJson if
    it is not valid JSON, nests more than MAX_JSON_DEPTH, or holds text that is not
    text (a lone surrogate: ``"\\ud800"`` is valid JSON but no character, and could not
    be stored, shown or written to a file name)."""
    try:
        data = json.loads(raw)
    except RecursionError:  # "[" * 100_000: deeper than Python's parser goes
        raise BadJson(_too_deep()) from None
    except (ValueError, UnicodeDecodeError):
        raise BadJson(_("the request body is not valid JSON")) from None
    _check_json_text(data)
    return data


def json_body(request: HttpRequest) -> dict:
    """The request body as a JSON object, or ApiError 400. Every API view that takes
    JSON reads it here (``parse_json``), so its checks hold for all of them."""
    try:
        raw = request.body
    except RawPostDataException:
        # A multipart POST was parsed as a form, from the stream, before the view
        # (uploads.py's middleware, else Django's CSRF check): its bytes are gone.
        raise ApiError(400, _("the request body must be JSON (Content-Type: "
                              "application/json), not a form")) from None
    try:
        data = parse_json(raw or b"{}")
    except BadJson as exc:
        raise ApiError(400, str(exc)) from None
    if not isinstance(data, dict):
        raise ApiError(400, _("the request body must be a JSON object"))
    return data


def _too_deep() -> str:
    return _("the request body is nested more than %(limit)s levels deep") % {
        "limit": MAX_JSON_DEPTH}


def _check_json_text(data: object) -> None:
    """Walk the parsed body (with a stack, not recursion) for depth and lone surrogates."""
    stack = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            try:  # in C: a Python loop over 5 MB of text took 0.38 s of CPU
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise BadJson(_("the request body contains a lone surrogate (an escape "
                                "like \\ud800 that is not a character)")) from None
        elif isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise BadJson(_too_deep())
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _page(request, status: int, title: str, message: str):
    if _wants_json(request):
        return error_response(status, message)
    return render(request, "playground/error.html",
                  {"status": status, "title": title, "message": message}, status=status)


def page_not_found(request, exception=None):
    return _page(request, 404, _("Page not found"),
                 _("There is nothing here, or it belongs to another browser session."))


def server_error(request):
    return _page(request, 500, _("Something went wrong"),
                 _("The playground hit an unexpected error. The details are in its log."))


def bad_request(request, exception=None):
    return _page(request, 400, _("Bad request"), _("The playground could not understand this "
                                                   "request."))


def permission_denied(request, exception=None):
    return _page(request, 403, _("Forbidden"), _("This action is not allowed."))


def csrf_failure(request, reason=""):
    return _page(request, 403, _("Please reload the page"),
                 _("The security token of this page is missing or out of date "
                   "(CSRF check failed). Reload the page and try again."))
