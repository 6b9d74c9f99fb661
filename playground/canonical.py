"""One loopback name for the playground: ``localhost`` and ``[::1]`` go to 127.0.0.1.

Cookies belong to a host name, not to an address: ``http://localhost:8000/`` and
``http://127.0.0.1:8000/`` are two cookie jars, so two sessions, so two separate sets of
sandboxes, and a learner who switches names sees theirs "disappear". runserver prints
127.0.0.1, so that is the canonical name (settings.PLAYGROUND_CANONICAL_HOST); the other
loopback names on the same port are redirected there with the path and query kept.

* GET and HEAD: 302 (not 301: a browser keeps a 301 forever, and the setting may change).
* Any other method would lose its body in a redirect: 421 Misdirected Request, with a
  JSON refusal that names the address to use.
* Only loopback names, and only when the request reached us on 127.0.0.1 itself (the
  socket's local address): then 127.0.0.1 on this port is certainly this very server. A
  classroom host reached by its own name, a server bound only to ::1, and the test
  client are untouched. Websockets never get here; their exact Origin check refuses a
  page from another name (origins.py).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponseRedirect
from django.http.request import split_domain_port
from django.utils import translation
from django.utils.translation import gettext

from .errors import error_response
from .language import request_language

# Names that reach this machine's loopback besides the canonical one.
LOOPBACK_ALIASES = {"localhost", "[::1]", "127.0.0.1"}
SAFE_METHODS = {"GET", "HEAD"}


def canonical_url(request) -> str | None:
    """Where this request belongs, or None if it is already there (or not ours to move)."""
    canonical = settings.PLAYGROUND_CANONICAL_HOST
    if not canonical or request.META.get("SERVER_NAME") != "127.0.0.1":
        return None
    name, port = split_domain_port(request.META.get("HTTP_HOST", ""))
    if name == canonical or name not in LOOPBACK_ALIASES:
        return None
    netloc = f"{canonical}:{port}" if port else canonical
    return f"{request.scheme}://{netloc}{request.get_full_path()}"


class CanonicalHostMiddleware:
    """First in MIDDLEWARE: nothing (session, CSRF, language) runs for a request that is
    about to be sent elsewhere."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        target = canonical_url(request)
        if target is None:
            return self.get_response(request)
        if request.method in SAFE_METHODS:
            return HttpResponseRedirect(target)
        address = "/".join(target.split("/", 3)[:3]) + "/"
        # LocaleMiddleware has not run yet: choose the language as it would.
        language = request_language(request.META.get("HTTP_COOKIE", ""),
                                    request.META.get("HTTP_ACCEPT_LANGUAGE", ""))
        with translation.override(language):
            message = gettext("this playground is used at %(address)s: sandboxes belong to "
                              "the browser session of that address; send the request "
                              "there") % {"address": address}
        return error_response(421, message, address=address)
