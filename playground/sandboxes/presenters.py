"""The one JSON shape of a sandbox, for the API, the pages and the live websocket.

Messages are kept on the row as data (a msgid and its parameters, refusals.Message) and
made into text here, in the language of whoever looks (docs/i18n.md).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Max
from django.http import HttpRequest
from django.http.request import split_domain_port
from django.urls import reverse
from django.utils.translation import gettext, gettext_noop

from ..classes import notices
from ..models import CheckRun, Sandbox
from ..refusals import Message
from . import ownership, program_kind
from .exits import START_REFUSALS, states_exit_code

DELETED_MESSAGE = gettext_noop("this sandbox was deleted")
# A sandbox's status in words, for a sentence or a class board's row (the JSON's
# ``status`` values stay English).
STATUS_WORDS = {
    Sandbox.Status.STOPPED: gettext_noop("stopped"),
    Sandbox.Status.STARTING: gettext_noop("starting"),
    Sandbox.Status.RUNNING: gettext_noop("running"),
    Sandbox.Status.CRASHED: gettext_noop("crashed"),
}
WITH_EXIT_CODE = gettext_noop("(exit code %(code)s)")

# The links of a sandbox: its JSON key -> URL name (playground/urls.py).
LINKS = {
    "self": "api-sandbox", "start": "api-start", "stop": "api-stop",
    "restart": "api-restart", "files": "api-files", "starter": "api-starter",
    "page": "sandbox-page", "traffic": "traffic-page", "exchanges": "api-exchanges",
    "mode": "api-mode", "rules": "api-rules", "compose": "api-compose",
    "program": "api-program", "checks": "api-checks",
}
# Links a sandbox of each kind does not have: a program has no henaserver mode or rules;
# henaserver has no program to edit.
NOT_LINKED = {Sandbox.Kind.HENASERVER: {"program"}, Sandbox.Kind.PROGRAM: {"mode", "rules"}}


def sandbox_host(request: HttpRequest) -> str:
    """Host name for "Open" links: a different name from the playground's, so the
    sandbox's pages never receive the playground's cookies (cookies ignore ports)."""
    if settings.PLAYGROUND_SANDBOX_HOST:
        return settings.PLAYGROUND_SANDBOX_HOST
    domain = split_domain_port(request.get_host())[0]
    if domain in ("127.0.0.1", "[::1]", "::1"):
        return "localhost"
    if domain == "localhost":
        return "127.0.0.1"
    return domain  # a classroom host: set PLAYGROUND_SANDBOX_HOST (docs/api.md)


def sandbox_url(request: HttpRequest, sandbox: Sandbox) -> str:
    """The sandbox's own address, as its "Open" link and the composer's Host show it."""
    return f"http://{sandbox_host(request)}:{sandbox.port}/"


def stored_message(sandbox: Sandbox) -> Message | None:
    """The row's message as data, or None."""
    if not sandbox.message:
        return None
    return Message.from_json({"key": sandbox.message, "params": sandbox.message_params})


def message_for_people(message: Message | None) -> str:
    """A message in the active language ('' for none)."""
    return message.translate(gettext) if message is not None else ""


def problem_for_people(message: Message | None, exit_code: int | None) -> str:
    """The one sentence a page shows about how a sandbox ended, in the active language:
    the message, plus the exit code when the message does not already state it."""
    text = message_for_people(message)
    if exit_code is not None and (message is None or not states_exit_code(message)):
        suffix = gettext(WITH_EXIT_CODE) % {"code": exit_code}
        text = f"{text} {suffix}" if text else suffix
    return text


def status_facts(sandbox: Sandbox | None) -> dict[str, Any]:
    """A sandbox's status as data, in no language (None: it was deleted). The ingest
    writer sends this to every viewer of the sandbox at each change, in order; each
    viewer words it with ``status_json`` in their own language."""
    if sandbox is None:
        return {"status": "deleted", "pid": None, "exit_code": None, "stderr_tail": [],
                "message": Message(DELETED_MESSAGE).to_json(), "program_error": None}
    message = stored_message(sandbox)
    return {
        "status": sandbox.status,
        "pid": sandbox.pid,
        "exit_code": sandbox.exit_code,
        "stderr_tail": sandbox.stderr_tail.splitlines() if sandbox.stderr_tail else [],
        "message": message.to_json() if message is not None else None,
        # A program's syntax error, for the editor to mark its line (live too).
        "program_error": program_kind.program_error(sandbox),
    }


def status_json(facts: dict[str, Any]) -> dict[str, Any]:
    """``status_facts`` worded in the active language: ``message`` becomes its text and
    ``problem`` the one sentence about how the sandbox ended."""
    data = facts.get("message")
    message = Message.from_json(data) if isinstance(data, dict) else None
    return {**facts, "message": message_for_people(message),
            "problem": problem_for_people(message, facts.get("exit_code")),
            # The message says why a start failed: an error, exit code or not.
            "refused": message is not None and (
                message.template in START_REFUSALS
                or message.template in program_kind.START_REFUSALS)}


def checks_json(sandbox: Sandbox) -> dict[str, Any]:
    """"Check my server" in brief (playground/checking): the stage the newest run
    reached, the best over the kept runs, and whether one is running (one left by a
    playground process that ended is marked interrupted by the checks API, which the
    page reads: checking/runs.interrupt_ended)."""
    runs = CheckRun.objects.filter(sandbox=sandbox)
    latest = runs.order_by("-number").values("reached", "state").first()
    best = runs.aggregate(best=Max("reached"))["best"] or 0 if latest else 0
    return {"reached": latest["reached"] if latest else 0, "best": best,
            "running": bool(latest and latest["state"] == CheckRun.State.RUNNING),
            "url": reverse("playground:api-checks", args=[sandbox.pk])}


def to_json(request: HttpRequest, sandbox: Sandbox) -> dict[str, Any]:
    """The sandbox as the API and the pages show it (docs/api.md)."""
    pk = sandbox.pk
    return {
        "id": pk,
        "name": sandbox.name,
        "port": sandbox.port,
        "url": sandbox_url(request, sandbox),
        **status_json(status_facts(sandbox)),
        "created_at": sandbox.created_at.isoformat(),
        "started_at": sandbox.started_at.isoformat() if sandbox.started_at else None,
        # When it last stopped (the card shows it beside the message saying why).
        "stopped_at": (sandbox.stopped_at.isoformat()
                       if sandbox.stopped_at and not sandbox.is_live else None),
        "uptime_seconds": sandbox.uptime_seconds(),
        "requests": sandbox.requests,
        "errors": sandbox.errors,
        "bytes_in": sandbox.bytes_in,
        "bytes_out": sandbox.bytes_out,
        "mode": sandbox.mode,
        "kind": sandbox.kind,
        "main_file": sandbox.main_file if sandbox.is_program else None,
        "starter": sandbox.starter if sandbox.is_program else None,
        # Why a program runs unisolated here (null: isolated, or not a program).
        "isolation": program_kind.isolation_note(sandbox),
        "checks": checks_json(sandbox),
        # Who looks: its owner, or a teacher of the owner's class (read-only: every
        # change but Stop answers 403; docs/classes.md).
        "viewer": ownership.viewer(request, sandbox),
        # What a teacher did to it, newest first, so the student always knows.
        "notices": notices.newest(sandbox),
        "links": {key: reverse(f"playground:{name}", args=[pk]) for key, name in LINKS.items()
                  if key not in NOT_LINKED[sandbox.kind]},
    }
