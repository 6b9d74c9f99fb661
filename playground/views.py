"""The site's own static files (the pages themselves live in their packages)."""

from __future__ import annotations

from django.contrib.staticfiles.views import serve as staticfiles_serve
from django.http import HttpRequest, HttpResponse


def static(request: HttpRequest, path: str) -> HttpResponse:
    """The playground's CSS and JS, served by Django itself so `runserver` works the same
    with DEBUG off (learners never see tracebacks). A production setup would run
    collectstatic behind a real web server instead."""
    return staticfiles_serve(request, path, insecure=True)
