"""The two HTML pages. They render a shell plus the initial JSON; static/playground/js
draws and refreshes everything from the API, so there is one source of truth."""

from __future__ import annotations

from django.conf import settings
from django.contrib.staticfiles.views import serve as staticfiles_serve
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from . import api, modes, sandboxes


@ensure_csrf_cookie
def home(request: HttpRequest) -> HttpResponse:
    initial = api.list_payload(request)
    count = len(initial["sandboxes"])
    return render(request, "playground/home.html", {
        "initial": initial,
        "suggested_port": sandboxes.suggest_port(request),
        "suggested_name": f"site-{count + 1}",
        "port_range": settings.PLAYGROUND_PORT_RANGE,
        "max_sandboxes": settings.PLAYGROUND_MAX_SANDBOXES_PER_OWNER,
        "modes": modes.page_data()["modes"],
    })


@ensure_csrf_cookie
def sandbox_page(request: HttpRequest, sandbox_id: int) -> HttpResponse:
    sandbox = sandboxes.page_sandbox(request, sandbox_id)
    return render(request, "playground/sandbox.html", {
        "sandbox": sandbox,
        "initial": sandboxes.to_json(request, sandbox),
        "max_file_bytes": settings.PLAYGROUND_MAX_FILE_BYTES,
        "modes_data": {**modes.page_data(), "current": modes.to_json(sandbox)},
    })


def static(request: HttpRequest, path: str) -> HttpResponse:
    """The playground's CSS and JS, served by Django itself so `runserver` works the same
    with DEBUG off (learners never see tracebacks). A production setup would run
    collectstatic behind a real web server instead."""
    return staticfiles_serve(request, path, insecure=True)
