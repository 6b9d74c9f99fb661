"""The sandboxes' JSON API (docs/api.md): list and create, show and delete, start, stop
and restart, each sandbox's mode and rules, and a program sandbox's program.

Thin views: ownership in ownership.py, processes in lifecycle.py, the JSON shape in
presenters.py; refusals become ``{"error": ...}`` in errors.api.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse

from ..classes import notices, watching
from ..errors import api, json_body
from ..models import Sandbox
from . import lifecycle, modes, program_kind
from .ownership import get_for_method, get_owned, get_readable, owned
from .presenters import to_json
from .runtime import is_running


def list_payload(request: HttpRequest) -> dict:
    """What `GET /api/sandboxes/` answers (the home page embeds the same)."""
    data = {
        "sandboxes": [to_json(request, s) for s in
                      owned(request).prefetch_related(notices.PREFETCH)],
        "limits": {
            "max_sandboxes": settings.PLAYGROUND_MAX_SANDBOXES_PER_OWNER,
            "port_range": list(settings.PLAYGROUND_PORT_RANGE),
        },
        # Whether the create form offers the program kind, and why not / why unisolated.
        "programs": program_kind.offer_json(request),
    }
    if request.GET.get("suggest"):
        data["suggested_port"] = lifecycle.suggest_port(request)
    return data


@api("GET", "POST")
def sandbox_list(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        return JsonResponse(list_payload(request))
    body = json_body(request)
    # Both checked before anything is created.
    program = program_kind.parse_create(request, body)
    mode = modes.parse_mode(body) if program is None else None
    sandbox = lifecycle.create(request, body.get("name"), body.get("port"), program)
    if mode is not None:
        modes.save(sandbox, mode)
    return JsonResponse(to_json(request, sandbox), status=201)


@api("GET", "DELETE")
def sandbox_detail(request: HttpRequest, sandbox_id: int) -> JsonResponse:
    sandbox = get_for_method(request, sandbox_id)
    if request.method == "DELETE":
        lifecycle.delete(sandbox)
        return JsonResponse({"deleted": sandbox_id})
    return JsonResponse(to_json(request, sandbox))


@api("POST")
def sandbox_start(request: HttpRequest, sandbox_id: int) -> JsonResponse:
    sandbox = start_or_explain(request, get_owned(request, sandbox_id))
    return JsonResponse(to_json(request, sandbox))


@api("POST")
def sandbox_stop(request: HttpRequest, sandbox_id: int) -> JsonResponse:
    # The one change a teacher may make to a student's sandbox, and the student is
    # told (classes/watching.py).
    sandbox = watching.stop(request, get_readable(request, sandbox_id))
    return JsonResponse(to_json(request, sandbox))


@api("POST")
def sandbox_restart(request: HttpRequest, sandbox_id: int) -> JsonResponse:
    sandbox = get_owned(request, sandbox_id)
    lifecycle.stop(sandbox)
    sandbox = start_or_explain(request, sandbox)
    return JsonResponse(to_json(request, sandbox))


def start_or_explain(request: HttpRequest, sandbox: Sandbox) -> Sandbox:
    """``lifecycle.start``; a server that could not start is answered with the sandbox's
    new state too, so the page shows why without asking again."""
    try:
        return lifecycle.start(request, sandbox)
    except lifecycle.StartFailed as failed:
        raise failed.answer(sandbox=to_json(request, failed.sandbox)) from None


# ----- mode and rules ---------------------------------------------------------------------
# A new mode restarts a running sandbox (henaserver takes its mode on the command line);
# rules are only rewritten to rules.json, which the running server re-reads at once.


@api("GET", "PUT")
def sandbox_mode(request: HttpRequest, sandbox_id: int) -> JsonResponse:
    sandbox = get_for_method(request, sandbox_id)
    program_kind.refuse_mode(sandbox)
    restarted = False
    if request.method == "PUT":
        fields = modes.parse_mode(json_body(request), sandbox)
        modes.save(sandbox, fields)
        if is_running(sandbox):
            lifecycle.stop(sandbox)
            sandbox = start_or_explain(request, sandbox)
            restarted = True
    return JsonResponse({**modes.to_json(sandbox), "restarted": restarted,
                         "sandbox": to_json(request, sandbox)})


@api("GET", "PUT")
def sandbox_rules(request: HttpRequest, sandbox_id: int) -> JsonResponse:
    sandbox = get_for_method(request, sandbox_id)
    program_kind.refuse_mode(sandbox)
    if request.method == "PUT":
        modes.save(sandbox, {"rules": modes.parse_rules(json_body(request))})
    return JsonResponse({"rules": modes.rules_json(sandbox),
                         "file": "rules.json", "restart_needed": False})


# ----- a program sandbox's program ---------------------------------------------------------
# The main file, read and replaced as text; the program reads it when it starts, so an
# edit while it runs waits for a restart (the answer says so: ``restart_needed``).


@api("GET", "PUT")
def sandbox_program(request: HttpRequest, sandbox_id: int) -> JsonResponse:
    sandbox = get_for_method(request, sandbox_id)
    if request.method == "PUT":
        return JsonResponse(program_kind.replace(sandbox, json_body(request),
                                                 is_running(sandbox)))
    return JsonResponse(program_kind.program_json(sandbox))
