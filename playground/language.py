"""The language of a request that Django has not seen (an ASGI guard, a websocket).

LocaleMiddleware chooses the language of every page and API answer; code that answers
before Django runs, or outside an HttpRequest, asks here and gets the same choice.
"""

from __future__ import annotations

from django.conf import settings
from django.http.cookie import parse_cookie
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header


def request_language(cookie: str, accept_language: str) -> str:
    """The request's language as LocaleMiddleware would choose it (cookie, then
    Accept-Language)."""
    wanted = [parse_cookie(cookie).get(settings.LANGUAGE_COOKIE_NAME, "")]
    wanted += [code for code, _q in parse_accept_lang_header(accept_language)]
    for code in wanted:
        if not code or code == "*":
            continue
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE
