"""The site's own static files (the pages themselves live in their packages)."""

from __future__ import annotations

from django.contrib.staticfiles.views import serve as staticfiles_serve
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.templatetags.static import static as static_url


def static(request: HttpRequest, path: str) -> HttpResponse:
    """The playground's CSS and JS, served by Django itself so `runserver` works the same
    with DEBUG off (learners never see tracebacks). A production setup would run
    collectstatic behind a real web server instead."""
    return staticfiles_serve(request, path, insecure=True)


def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``, which browsers ask for on any page without a ``<link rel=icon>``
    (a JSON answer opened in a tab, the admin): the page's own icon, instead of a 404
    line in the console for every such page."""
    return HttpResponsePermanentRedirect(static_url("playground/img/favicon.svg"))
