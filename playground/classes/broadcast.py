"""One request to everyone (docs/classes.md, "One request to everyone"): the teacher's
raw bytes to every **running** sandbox of the class's students, each answer diffed
byte for byte against what henaserver in full mode answers from the same folder.

* Sent with the composer's own code (compose/composer.send), a few sandboxes at a time
  (MAX_PARALLEL), each within the composer's bounds (10 s at most per answer).
* Each connection's local port is registered (CheckPort, sent_by="teacher", no run)
  after connecting and before its first byte, as a check's is: ingest then marks that
  exchange ``sent_by`` in the student's traffic (traffic/exchanges.tag_checks), and the
  student's traffic list shows "sent by your teacher".
* Every sandbox reached gets a TeacherNotice: nothing a teacher does is hidden.
* Results arrive as they come (``run`` is an async generator), so the panel can say
  "12 of 30 answered".
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop, override

from ..accounts import shown_name
from ..checking.runs import docroot_of, seqs_of
from ..class_models import Classroom, TeacherNotice
from ..compose import composer
from ..compose.api import connect_host
from ..models import CheckPort, Sandbox
from ..sandboxes.exits import StartError
from ..sandboxes.runtime import running
from . import diff as bytes_diff
from . import notices
from .reference import References, references

SENT_BY = "teacher"
# Sandboxes sent to at once: each holds a connection (and its reference a henaserver
# child) for up to composer.TOTAL_TIMEOUT; 8 keeps a class of 30 within a few rounds on
# a 2-core machine without starting 30 reference servers together.
MAX_PARALLEL = 8
# A broadcast's CheckPort rows whose exchange never arrived are removed by a later
# broadcast once this old (a late exchange would arrive well within it).
STALE_PORTS = timedelta(hours=1)
# Bytes of each answer (and of its reference) sent back to the teacher's page: a class
# of 30 answering a large file must not make a page of 30 × 3 MiB. The diff looks at
# less still (diff.MAX_DIFF_BYTES); the whole answer is in the student's traffic.
SHOWN_BYTES = 64 * 1024

# How an answer ended, for the teacher (composer.Result.ended).
ENDED = {
    "closed": gettext_noop("the server answered and closed the connection"),
    "idle": gettext_noop("the server answered and kept the connection open"),
    "time_limit": gettext_noop("no complete answer within %(seconds)s seconds"),
    "size_limit": gettext_noop("the answer was cut at %(limit)s bytes"),
    "refused": gettext_noop("could not connect: nothing is listening on port %(port)s"),
}
REFERENCE_FAILED = gettext_noop("the reference server could not start: %(error)s")


@dataclass(frozen=True)
class Plan:
    """What to send (compose/api.request_plan made it): the bytes, as pieces."""

    data: bytes
    pieces: int = 1
    delay_ms: int = 0


def running_sandboxes(classroom: Classroom) -> list[Sandbox]:
    """The running sandboxes of the class's students (the teacher's own excluded: a
    teacher in their own class is not a student), by student then sandbox."""
    rows = (Sandbox.objects.filter(user__memberships__classroom=classroom)
            .exclude(user=classroom.teacher).select_related("user")
            .order_by("user__username", "pk").distinct())
    return running(rows)


def _student(user: Any) -> dict[str, Any]:
    return {"id": user.pk, "username": user.get_username(), "name": shown_name(user)}


def _forget_stale_ports() -> None:
    CheckPort.objects.filter(run=None, sent_by=SENT_BY,
                             created_at__lt=timezone.now() - STALE_PORTS).delete()


def _find_seq(sandbox: Sandbox, port: int, floor: int) -> int | None:
    """The seq of the exchange our connection from ``port`` became (the first on it),
    waited for as a check's are (None: the server answered nothing)."""
    try:
        return seqs_of(sandbox.pk, floor, {(port, 0)}).get((port, 0))
    finally:
        connection.close()  # a worker thread's connection, not the request's


def _outcome_text(result: composer.Result, port: int) -> str:
    template = ENDED.get(result.ended, "")
    return gettext(template) % {"seconds": f"{composer.TOTAL_TIMEOUT:g}", "port": port,
                                "limit": composer.MAX_RESPONSE_BYTES} if template else ""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class Broadcast:
    """One broadcast of ``plan`` to ``sandboxes`` by ``teacher``."""

    def __init__(self, teacher: Any, plan: Plan, sandboxes: list[Sandbox],
                 language: str) -> None:
        self.teacher = teacher
        self.plan = plan
        self.sandboxes = sandboxes
        self.language = language
        self.host = connect_host(settings.PLAYGROUND_BIND_HOST)
        self.references_started = 0  # reference servers (one per distinct content)

    async def results(self) -> AsyncIterator[dict[str, Any]]:
        """Each sandbox's result as soon as it is complete, in the order they end."""
        await sync_to_async(_forget_stale_ports)()
        gate = asyncio.Semaphore(MAX_PARALLEL)
        async with references() as refs:
            tasks = [asyncio.ensure_future(self._one(s, refs, gate)) for s in self.sandboxes]
            try:
                for done in asyncio.as_completed(tasks):
                    yield await done
            finally:  # the teacher went away mid-way: nothing left running
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                self.references_started = refs.started

    async def _one(self, sandbox: Sandbox, refs: References,
                   gate: asyncio.Semaphore) -> dict[str, Any]:
        ports: list[int] = []

        async def register(port: int) -> None:
            ports.append(port)
            await sync_to_async(CheckPort.objects.create)(
                sandbox_id=sandbox.pk, port=port, sent_by=SENT_BY)

        async with gate:
            floor = sandbox.last_seq
            plan = self.plan
            answer, reference = await asyncio.gather(
                composer.send(self.host, sandbox.port, plan.data, plan.pieces,
                              plan.delay_ms, on_connect=register),
                self._reference(refs, sandbox))
        seq = None
        if ports:
            await sync_to_async(notices.record)(sandbox, self.teacher,
                                                TeacherNotice.Action.BROADCAST)
            seq = await asyncio.to_thread(_find_seq, sandbox, ports[0], floor)
            if seq is not None:  # tagged: its row has done its job
                await sync_to_async(CheckPort.objects.filter(
                    sandbox_id=sandbox.pk, port=ports[0], run=None).delete)()
        return await asyncio.to_thread(self._result, sandbox, answer, reference, seq)

    async def _reference(self, refs: References,
                         sandbox: Sandbox) -> composer.Result | str:
        """The reference's answer, or why there is none (a message)."""
        try:
            folder = await asyncio.to_thread(docroot_of, sandbox)
            return await refs.answer(str(folder), self.plan.data, self.plan.pieces,
                                     self.plan.delay_ms)
        except StartError as error:
            with override(self.language):
                return gettext(REFERENCE_FAILED) % {"error": error}

    def _result(self, sandbox: Sandbox, answer: composer.Result,
                reference: composer.Result | str, seq: int | None) -> dict[str, Any]:
        response = bytes(answer.response[:SHOWN_BYTES])
        with override(self.language):
            outcome = _outcome_text(answer, sandbox.port)
            if isinstance(reference, str):
                ref_json: dict[str, Any] = {"response_b64": None, "error": reference}
                compared = None
            else:
                ref_bytes = bytes(reference.response[:SHOWN_BYTES])
                ref_json = {"response_b64": _b64(ref_bytes),
                            "ended": reference.ended, "error": reference.error}
                compared = bytes_diff.diff(response, ref_bytes)
        return {
            "type": "answer",
            "student": _student(sandbox.user),
            "sandbox": {"id": sandbox.pk, "name": sandbox.name, "kind": sandbox.kind,
                        "mode": sandbox.mode, "port": sandbox.port},
            "seq": seq,
            "response_b64": _b64(response),
            "response": response.decode("utf-8", errors="replace"),
            "response_length": len(answer.response),  # before the cut to SHOWN_BYTES
            "ended": answer.ended,
            "outcome": outcome,
            "error": None if answer.ended != "refused" else outcome,
            "detail": answer.error,
            "timings": {"first_byte": answer.first_byte_ms, "total": answer.total_ms},
            "diff": compared,
            "reference": ref_json,
        }
