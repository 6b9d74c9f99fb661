"""The checks' JSON API (docs/api.md, "Check my server"): start a run, list the runs,
show one, stop one. Thin views: ownership in sandboxes/ownership.py (another owner's
sandbox is a 404, like every sandbox API), runs in runs.py, the JSON in present.py."""

from __future__ import annotations

from django.http import Http404, HttpRequest, JsonResponse

from ..errors import api, json_body
from ..models import CheckRun, Sandbox
from ..sandboxes.ownership import get_for_method, get_owned, get_readable
from . import present, runs

# Runs listed by GET .../checks/: all the kept ones (runs.KEEP_RUNS), newest first; the
# newest in full, the others without their outcomes ("stages": at up to ~10 KB per failed
# check, fifty full runs made a 15 MB answer, read by every load of the sandbox page).


def _run(sandbox: Sandbox, number: int) -> CheckRun:
    run = CheckRun.objects.filter(sandbox=sandbox, number=number).first()
    if run is None:
        raise Http404
    return run


@api("GET", "POST")
def check_list(request: HttpRequest, sandbox_id: int) -> JsonResponse:
    sandbox = get_for_method(request, sandbox_id)
    if request.method == "POST":
        through = runs.parse_through(json_body(request))
        run = runs.start(sandbox, through)
        return JsonResponse(present.run_json(present.run_facts(run)), status=202)
    runs.interrupt_ended(sandbox.pk)
    kept = list(CheckRun.objects.filter(sandbox=sandbox).order_by("-number"))
    best = max((run.reached for run in kept), default=0)
    return JsonResponse({
        "runs": [present.run_json(present.run_facts(run, best), outcomes=not older)
                 for older, run in enumerate(kept)],
        "reached": kept[0].reached if kept else 0,
        "best": best,
        "stages": present.stage_list(),
    })


@api("GET")
def check_detail(request: HttpRequest, sandbox_id: int, number: int) -> JsonResponse:
    sandbox = get_readable(request, sandbox_id)
    runs.interrupt_ended(sandbox.pk)
    return JsonResponse(present.run_json(present.run_facts(_run(sandbox, number))))


@api("POST")
def check_stop(request: HttpRequest, sandbox_id: int, number: int) -> JsonResponse:
    run = runs.stop(_run(get_owned(request, sandbox_id), number))
    return JsonResponse(present.run_json(present.run_facts(run)), status=202)
