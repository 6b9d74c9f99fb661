"""Create, start, stop and delete a sandbox: the row, the process and its files in step.

Views call these and stay thin. Refusals (a taken port, a quota, a server that could
not start) are raised as ``Refusal``s with their HTTP status; ``errors.api`` answers
them in the request's language.
"""

from __future__ import annotations

import logging
import shutil
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.http.request import split_domain_port
from django.utils import timezone
from django.utils.translation import gettext_noop

from ..files.storage import root_of
from ..models import Sandbox
from ..refusals import Message, Refusal
from ..traffic.ingest import ingestor
from . import control, modes, ports
from .exits import StartError
from .ownership import owned, owner_fields
from .runtime import is_running, message_fields, record_exit, runs_here, supervisor

log = logging.getLogger(__name__)
Status = Sandbox.Status

PORT_TAKEN_BY_YOURS = gettext_noop('port %(port)s is already used by your sandbox "%(name)s"')
PORT_TAKEN = gettext_noop("port %(port)s is already used by another sandbox")
PORT_TAKEN_BY_PROGRAM = gettext_noop("port %(port)s is already used by another program on "
                                     "this computer; choose another one")
OWN_PORT = gettext_noop("port %(port)s is the playground's own port; delete this sandbox "
                        "and create one on another port")
NO_NAME = gettext_noop("give the sandbox a name")
LONG_NAME = gettext_noop("the name is longer than 60 characters")
TOO_MANY = gettext_noop("you already have %(limit)s sandboxes, the limit; delete one to "
                        "create another")
BUSY = gettext_noop("the playground already runs %(count)s sandboxes, as many as this "
                    "computer allows; stop one of yours or try again later")


# ----- ports -----------------------------------------------------------------------------


def own_ports(request: HttpRequest) -> set[int]:
    """The playground's own port(s): never offered to a sandbox."""
    result = set()
    for text in (request.get_port(), split_domain_port(request.get_host())[1]):
        if text and str(text).isdigit():
            result.add(int(text))
    return result


def suggest_port(request: HttpRequest) -> int | None:
    taken = set(Sandbox.objects.values_list("port", flat=True)) | own_ports(request)
    return ports.suggest(settings.PLAYGROUND_BIND_HOST, settings.PLAYGROUND_PORT_RANGE, taken)


def check_port(request: HttpRequest, port: object, sandbox: Sandbox | None = None) -> int:
    """The port as an int, or a Refusal saying why it cannot be used."""
    try:
        number = ports.check_in_range(port, settings.PLAYGROUND_PORT_RANGE, own_ports(request))
    except ports.PortError as exc:
        raise exc.answer(field="port") from None
    other = Sandbox.objects.filter(port=number).exclude(pk=getattr(sandbox, "pk", None)).first()
    if other is not None:
        mine = owned(request).filter(pk=other.pk).exists()
        raise Refusal(PORT_TAKEN_BY_YOURS if mine else PORT_TAKEN, port=number,
                      name=other.name).answer(field="port")
    if not ports.is_free(settings.PLAYGROUND_BIND_HOST, number):
        raise Refusal(PORT_TAKEN_BY_PROGRAM, port=number).answer(field="port")
    return number


# ----- create, start, stop, delete -----------------------------------------------------


def create(request: HttpRequest, name: object, port: object) -> Sandbox:
    if not isinstance(name, str) or not name.strip():
        raise Refusal(NO_NAME).answer(field="name")
    name = name.strip()
    if len(name) > 60:
        raise Refusal(LONG_NAME).answer(field="name")
    limit = settings.PLAYGROUND_MAX_SANDBOXES_PER_OWNER
    if owned(request).count() >= limit:
        raise Refusal(TOO_MANY, limit=limit)
    number = check_port(request, port)
    try:
        sandbox = Sandbox.objects.create(name=name, port=number, **owner_fields(request))
    except IntegrityError:  # another request took the port a moment ago
        raise Refusal(PORT_TAKEN, port=number, name="").answer(field="port") from None
    root = root_of(sandbox)
    if root.exists():  # left over from an earlier database
        shutil.rmtree(root)
    root.mkdir(parents=True)
    return sandbox


class StartFailed(Refusal):
    """The server did not start; ``sandbox`` is the row, which now says why."""

    def __init__(self, error: StartError, sandbox: Sandbox) -> None:
        super().__init__(error.template, **error.params)
        self.status = error.status
        self.sandbox = sandbox


def start(request: HttpRequest, sandbox: Sandbox) -> Sandbox:
    """Start the sandbox's server and return once it listens (idempotent)."""
    sup = supervisor()
    if is_running(sandbox):
        return sandbox
    if sandbox.port in own_ports(request):
        raise Refusal(OWN_PORT, port=sandbox.port).answer(409)
    root = root_of(sandbox)
    root.mkdir(parents=True, exist_ok=True)
    control.ensure_listening(stop_if_mine)  # so another process can ask us to stop it
    with transaction.atomic():  # count and claim together (SQLite: one writer at a time)
        running = Sandbox.objects.filter(status__in=Sandbox.LIVE_STATUSES) \
            .exclude(pk=sandbox.pk).count()
        if running >= settings.PLAYGROUND_MAX_RUNNING_SANDBOXES:
            raise Refusal(BUSY, count=running).answer(503)
        _save(sandbox, status=Status.STARTING, pid=None, exit_code=None, stderr_tail="",
              requests=0, errors=0, bytes_in=0, bytes_out=0, **message_fields(None))
    # Through the ingest queue, so it lands after the previous run's last events and
    # before this run's first: a new run begins, earlier runs' history stays.
    ingestor().new_run(sandbox.key)
    ingestor().status(sandbox.key)
    try:
        child = sup.start(sandbox.key, root=str(root), host=settings.PLAYGROUND_BIND_HOST,
                          port=sandbox.port, args=modes.henaserver_args(sandbox))
    except StartError as exc:
        _save(sandbox, status=Status.STOPPED, exit_code=exc.returncode,
              stderr_tail="\n".join(exc.stderr_tail), stopped_at=timezone.now(),
              **message_fields(exc.message))
        ingestor().status(sandbox.key)
        raise StartFailed(exc, sandbox) from None
    _save(sandbox, status=Status.RUNNING, pid=child.pid, started_at=timezone.now())
    ingestor().status(sandbox.key)
    if child.exit_info is not None:  # died between `listening` and our save
        record_exit(sandbox.key, child.exit_info)
        sandbox.refresh_from_db()
    return sandbox


def stop(sandbox: Sandbox, message: Message | None = None) -> Sandbox:
    """Stop the sandbox's server, wherever it runs (another process: control.py)."""
    if not runs_here(sandbox) and control.runs_elsewhere(sandbox):
        return control.stop_elsewhere(sandbox, message)  # the owner tells the viewers
    supervisor().stop(sandbox.key)
    if sandbox.is_live:
        _save(sandbox, status=Status.STOPPED, pid=None, stopped_at=timezone.now(),
              **message_fields(message))
        ingestor().status(sandbox.key)
    return sandbox


def stop_if_mine(sandbox_id: int, message: Message | None) -> None:
    """Another playground process asks for a stop (control.py): ours to do only if
    this process runs the sandbox's server."""
    sandbox = Sandbox.objects.filter(pk=sandbox_id).first()
    if sandbox is not None and runs_here(sandbox):  # else another process's, or none
        log.info("sandbox %s: stopping at the request of another process", sandbox_id)
        stop(sandbox, message)


def delete(sandbox: Sandbox) -> None:
    key = sandbox.key
    stop(sandbox)
    shutil.rmtree(root_of(sandbox), ignore_errors=True)
    modes.remove_files(sandbox)
    sandbox.delete()
    ingestor().status(key)  # viewers of its traffic page learn that it is gone


def _save(sandbox: Sandbox, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(sandbox, name, value)
    sandbox.save(update_fields=list(fields))
