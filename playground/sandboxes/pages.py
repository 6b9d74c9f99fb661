"""The two sandbox pages: the home page (your sandboxes, the create form with the
starter programs) and one sandbox's page (a program sandbox's editor, help and console
instead of the mode panels). They render a shell plus the initial JSON;
static/playground/js draws and refreshes everything from the API, so there is one source
of truth."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from ..classes import watching
from . import lifecycle, modes, starters
from .api import list_payload
from .ownership import owner_fields, page_sandbox
from .presenters import to_json
from .programs import ProgramLimits


@ensure_csrf_cookie
def home(request: HttpRequest) -> HttpResponse:
    # A new browser session gets its owner token with the page, not in its first
    # create: concurrent first creates would each make one (the session is saved last
    # writer wins), and every sandbox but one would belong to nobody.
    owner_fields(request)
    initial = list_payload(request)
    count = len(initial["sandboxes"])
    return render(request, "playground/home.html", {
        "initial": initial,
        "suggested_port": lifecycle.suggest_port(request),
        "suggested_name": f"site-{count + 1}",
        "port_range": settings.PLAYGROUND_PORT_RANGE,
        "max_sandboxes": settings.PLAYGROUND_MAX_SANDBOXES_PER_OWNER,
        "modes": modes.page_data()["modes"],
        "starters": starters.page_data(),
    })


@ensure_csrf_cookie
def sandbox_page(request: HttpRequest, sandbox_id: int) -> HttpResponse:
    sandbox = page_sandbox(request, sandbox_id)
    initial = to_json(request, sandbox)
    return render(request, "playground/sandbox.html", {
        "sandbox": sandbox,
        "initial": initial,
        "max_file_bytes": settings.PLAYGROUND_MAX_FILE_BYTES,
        "modes_data": {**modes.page_data(), "current": modes.to_json(sandbox)},
        "program": program_data(initial) if initial.get("kind") == "program" else None,
        "read_only": watching.look(request, sandbox),  # a teacher's look: the banner
    })


def program_data(initial: dict[str, Any]) -> dict[str, Any]:
    """What the program panel needs besides the sandbox's JSON: its API, and the limits
    the help states (the ones the program runs under)."""
    limits = program_limits()
    return {
        "url": initial.get("program") or initial["links"].get("program", ""),
        "main_file": initial.get("main_file") or "main.py",
        "isolation": initial.get("isolation"),
        "limits": {**asdict(limits), "data_mb": limits.data_bytes // 2**20,
                   "file_mb": limits.file_bytes // 2**20},
    }


def program_limits() -> ProgramLimits:
    configured = getattr(settings, "PLAYGROUND_PROGRAM_LIMITS", None)
    if isinstance(configured, ProgramLimits):
        return configured
    return ProgramLimits(**configured) if isinstance(configured, dict) else ProgramLimits()
