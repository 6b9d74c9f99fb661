"""The mode and rules API of a sandbox (docs/api.md, "Modes and rules").

A new mode restarts a running sandbox (henaserver takes its mode on the command line);
rules are only rewritten to rules.json, which the running server re-reads at once.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from . import modes, sandboxes
from .errors import api, json_body


@api("GET", "PUT")
def sandbox_mode(request: HttpRequest, sandbox_id: int) -> JsonResponse:
    sandbox = sandboxes.get_owned(request, sandbox_id)
    restarted = False
    if request.method == "PUT":
        fields = modes.parse_mode(json_body(request), sandbox)
        modes.save(sandbox, fields)
        if sandboxes.supervisor().get(sandbox.key) is not None or sandbox.is_live:
            sandboxes.stop(sandbox)
            sandbox = sandboxes.start(request, sandbox)
            restarted = True
    return JsonResponse({**modes.to_json(sandbox), "restarted": restarted,
                         "sandbox": sandboxes.to_json(request, sandbox)})


@api("GET", "PUT")
def sandbox_rules(request: HttpRequest, sandbox_id: int) -> JsonResponse:
    sandbox = sandboxes.get_owned(request, sandbox_id)
    if request.method == "PUT":
        modes.save(sandbox, {"rules": modes.parse_rules(json_body(request))})
    return JsonResponse({"rules": modes.rules_json(sandbox),
                         "file": "rules.json", "restart_needed": False})
