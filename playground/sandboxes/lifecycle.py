"""Create, start, stop and delete a sandbox: the row, the process and its files in step.

Views call these and stay thin. Refusals (a taken port, a quota, a server that could
not start) are raised as ``Refusal``s with their HTTP status; ``errors.api`` answers
them in the request's language.

Concurrent calls for one sandbox, from any thread of any playground process, end with
one outcome: the row's claim decides (claims.py). A Start that finds another start (or
a running server) waits for it and answers with the row's truth; a Stop always works,
releasing the claim first and then ending the process wherever it runs; Delete is a Stop
and then the row's deletion, which (``post_delete``, even from the admin or a cascade)
ends whatever still runs and removes the files.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.http import HttpRequest
from django.http.request import split_domain_port
from django.utils.translation import gettext_noop

from ..files.storage import root_of
from ..models import Sandbox
from ..refusals import Message, Refusal
from ..traffic.ingest import ingestor
from . import budgets, claims, control, heartbeat, leftovers, modes, ports, program_kind
from .exits import LAUNCH_FAILED, StartError
from .ownership import NO_SUCH_SANDBOX, owned, owner_fields
from .runtime import message_fields, record_exit, supervisor
from .supervisor import STOP_GRACE

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
STOPPED_MEANWHILE = gettext_noop("the sandbox was stopped while it was starting")
# Claims this process is starting a child for (between the claim and the child's
# registration in the Supervisor): bookkeeping of our own threads, never a lock.
_launching: set[str] = set()
_launching_lock = threading.Lock()


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


def create(request: HttpRequest, name: object, port: object,
           program: dict[str, Any] | None = None) -> Sandbox:
    """A new stopped sandbox; ``program``: program_kind.parse_create's fields and files
    (written all or none: if they do not fit, the sandbox is not created either)."""
    if not isinstance(name, str) or not name.strip():
        raise Refusal(NO_NAME).answer(field="name")
    name = name.strip()
    if len(name) > 60:
        raise Refusal(LONG_NAME).answer(field="name")
    limit = settings.PLAYGROUND_MAX_SANDBOXES_PER_OWNER
    number = check_port(request, port)
    owner = owner_fields(request)
    address = budgets.client_address(request.META)
    network = budgets.network_of(address)
    try:
        with transaction.atomic():  # count and create together (claims.owner_quota)
            if not claims.owner_quota(owned(request).count, limit):
                raise Refusal(TOO_MANY, limit=limit)
            if "user" not in owner:  # anonymous: the address's budget too
                budgets.check_create(address, network)
            sandbox = Sandbox.objects.create(name=name, port=number, client_address=address,
                                             client_network=network, **owner,
                                             **(program or {}).get("fields", {}))
    except IntegrityError:  # another request took the port a moment ago
        raise Refusal(PORT_TAKEN, port=number, name="").answer(field="port") from None
    root = root_of(sandbox)
    if root.exists():  # left over from an earlier database
        shutil.rmtree(root)
    root.mkdir(parents=True)
    try:
        program_kind.write(sandbox, (program or {}).get("files", []))
    except BaseException:
        sandbox.delete()
        raise
    return sandbox


class StartFailed(Refusal):
    """The server is not running after a Start; ``sandbox`` is the row, which says why."""

    def __init__(self, template: str, params: dict[str, Any], status: int,
                 sandbox: Sandbox) -> None:
        super().__init__(template, **params)
        self.status = status
        self.sandbox = sandbox


def start(request: HttpRequest, sandbox: Sandbox) -> Sandbox:
    """Start the sandbox's server and return once it listens (idempotent: a second
    Start while one is under way waits for it)."""
    if sandbox.port in own_ports(request):
        raise Refusal(OWN_PORT, port=sandbox.port).answer(409)
    root_of(sandbox).mkdir(parents=True, exist_ok=True)
    if sandbox.is_program:
        program_kind.check_startable(sandbox, request)
    control.ensure_listening(stop_if_mine)  # so another process can ask us to stop it
    with launching() as token:
        claim = claims.take(sandbox.pk, settings.PLAYGROUND_MAX_RUNNING_SANDBOXES, _held,
                            token, exit_code=None, stderr_tail="", requests=0, errors=0,
                            bytes_in=0, bytes_out=0, **message_fields(None))
        if claim is None:
            return _outcome(sandbox)
        return launch(sandbox, claim)


@contextlib.contextmanager
def launching() -> Iterator[str]:
    """A new claim token, counted as under way (``_held``) until the block ends: from
    before its claim commits until its child is registered, or the start is over."""
    token = claims.new_token()
    with _launching_lock:
        _launching.add(token)
    try:
        yield token
    finally:
        with _launching_lock:
            _launching.discard(token)


def launch(sandbox: Sandbox, claim: claims.Claim) -> Sandbox:
    """Start the child for a claim we hold (inside ``launching()``); finish the claim,
    or give it up. An unexpected failure (Popen's EMFILE, the interpreter gone, a
    database error) gives the claim up too: the row must not stay STARTING under our
    name, counted against the running limit, with no server coming."""
    try:
        return _launch(sandbox, claim)
    except Refusal:
        raise  # an answer already (StartFailed, a 404): the row says why
    except Exception:
        log.exception("sandbox %s: the start failed", sandbox.key)
        return _gave_up(sandbox, claim)


def _gave_up(sandbox: Sandbox, claim: claims.Claim) -> Sandbox:
    """After an unexpected failure in ``_launch``: no child of this claim runs, the row
    is STOPPED saying so (if the claim is still ours), and the answer is a sentence."""
    try:
        supervisor().stop(sandbox.key, tag=claim.token)  # if it got as far as a child
        if not claims.fail(claim, exit_code=None, stderr_tail="",
                           **message_fields(Message(LAUNCH_FAILED))):
            return _outcome(sandbox)  # a stop came first: that is the truth now
        ingestor().status(sandbox.key)
        sandbox.refresh_from_db()
    except Refusal:
        raise
    except Exception:  # the database itself may be what failed: say so all the same
        log.exception("sandbox %s: could not record the failed start", sandbox.key)
    raise StartFailed(LAUNCH_FAILED, {}, 500, sandbox)


def _launch(sandbox: Sandbox, claim: claims.Claim) -> Sandbox:
    key = sandbox.key
    # Through the ingest queue, so it lands after the previous run's last events and
    # before this run's first: a new run begins (a Start, or a resume after an
    # autoreload: a new server, counting from 1), earlier runs' history stays.
    ingestor().new_run(key, claim.token)
    ingestor().status(key)
    for attempt in (1, 2):
        if not _clear_leftovers(sandbox, claim):
            return _outcome(sandbox)  # stopped (and maybe started again) meanwhile
        try:
            child = _start_child(sandbox, claim.token)
            break
        except ValueError:  # a child of an older claim registered first: retry
            if attempt == 2:
                claims.fail(claim, **message_fields(None))
                return _outcome(sandbox)
        except StartError as exc:
            # Our earlier claim's server may have held the port a moment longer.
            if exc.reason == "port_in_use" and attempt == 1 and _still_ours(claim):
                continue
            return _failed(sandbox, claim, exc)
    if not claims.finish(claim, child.pid):
        # Stopped or deleted while it started: the claim is gone, so is this server.
        supervisor().stop(key, tag=claim.token)
        return _outcome(sandbox)
    ingestor().status(key)
    if child.exit_info is not None:  # died between `listening` and our save
        record_exit(key, child.exit_info)
    sandbox.refresh_from_db()
    return sandbox


def _start_child(sandbox: Sandbox, tag: str) -> Any:
    """The sandbox's server: henaserver in its mode, or the learner's program behind the
    capture relay (docs/program-sandboxes.md)."""
    if sandbox.is_program:
        return supervisor().start_program(sandbox.key, program_kind.spec(sandbox), tag=tag)
    return supervisor().start(
        sandbox.key, root=str(root_of(sandbox)), host=settings.PLAYGROUND_BIND_HOST,
        port=sandbox.port, args=modes.henaserver_args(sandbox), tag=tag)


def _failed(sandbox: Sandbox, claim: claims.Claim, exc: StartError) -> Sandbox:
    if not claims.fail(claim, exit_code=exc.returncode, stderr_tail="\n".join(exc.stderr_tail),
                       **message_fields(exc.message)):
        return _outcome(sandbox)  # a stop came first: that is the truth now
    ingestor().status(sandbox.key)
    sandbox.refresh_from_db()
    raise StartFailed(exc.template, exc.params, exc.status, sandbox)


def _held(row: Sandbox) -> bool:
    """Is the live row's claim still served? Ours: a start under way or our child of
    that claim. Another process's: while that process is alive (heartbeat.py)."""
    if row.run_by != heartbeat.me():
        return heartbeat.is_alive(row.run_by)
    with _launching_lock:
        if row.claim in _launching:
            return True
    child = supervisor().get(row.key)
    return child is not None and child.tag == row.claim


def _still_ours(claim: claims.Claim) -> bool:
    return Sandbox.objects.filter(pk=claim.sandbox_id, claim=claim.token).exists()


def _clear_leftovers(sandbox: Sandbox, claim: claims.Claim) -> bool:
    """Before a new server binds the port: any server of this sandbox belongs to an
    earlier claim, on its way out; make sure it is gone. False if the claim is no
    longer ours (then nothing is touched: the servers may be a newer claim's).

    The servers are listed *before* the row is read: if the claim is still ours after
    the listing, no newer claim existed during it, so every server listed is older."""
    child = supervisor().get(sandbox.key)
    pids = leftovers.serving(str(root_of(sandbox)))
    if not _still_ours(claim):
        return False
    if child is not None and child.tag != claim.token:
        supervisor().stop(sandbox.key, tag=child.tag)
    others = [pid for pid in pids if child is None or pid != child.pid]
    if others:  # another process's, or a dead one's, still exiting
        leftovers.end(others)
    return True


def _outcome(sandbox: Sandbox) -> Sandbox:
    """Another start holds (or took over) the claim: wait for its outcome, bounded by a
    start's own time, and answer with the row's truth."""
    bound = settings.PLAYGROUND_START_TIMEOUT + 2 * STOP_GRACE + leftovers.EXIT_WAIT
    deadline = time.monotonic() + bound
    while True:
        row = Sandbox.objects.filter(pk=sandbox.pk).first()
        if row is None:
            raise Refusal(NO_SUCH_SANDBOX).answer(404)
        if row.status != Status.STARTING or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if row.status == Status.RUNNING or row.status == Status.STARTING:
        return row
    message = row.message or STOPPED_MEANWHILE
    raise StartFailed(message, row.message_params if row.message else {}, 409, row)


def stop(sandbox: Sandbox, message: Message | None = None,
         claim: str | None = None) -> Sandbox:
    """Stop the sandbox's server, wherever it runs: the row first (no start in flight
    can finish), then the process (another playground process's: control.py). With
    ``claim``: only if that claim still holds the row (claims.release)."""
    released = claims.release(sandbox.pk, claim, **message_fields(message))
    if released is None:
        _stop_unclaimed(sandbox.pk)
    else:
        end(sandbox.pk, released)
        ingestor().status(sandbox.key)
    program_kind.end_survivors(sandbox.pk, sandbox.is_program)  # what outlived bwrap
    try:
        sandbox.refresh_from_db()
    except Sandbox.DoesNotExist:
        pass  # deleted meanwhile: the caller's copy says what it last was
    return sandbox


def end(sandbox_id: int, released: claims.Released | None) -> None:
    """End the server a released claim had, here or in the process that ran it."""
    if released is None:
        return
    if released.run_by == heartbeat.me() or not heartbeat.is_alive(released.run_by):
        supervisor().stop(str(sandbox_id), tag=released.claim)
        if released.pid and leftovers.is_sandbox_server(released.pid, released.port):
            leftovers.end([released.pid], wait=0)  # a dead process's child, if any
    else:
        control.stop_elsewhere(sandbox_id, released)


def _stop_unclaimed(sandbox_id: int) -> None:
    """The row is not live: a child of ours for it that no claim covers must not run."""
    child = supervisor().get(str(sandbox_id))
    row = Sandbox.objects.filter(pk=sandbox_id).values("claim").first()
    if child is not None and (row is None or child.tag != row["claim"]):
        supervisor().stop(str(sandbox_id), tag=child.tag)


def stop_if_mine(sandbox_id: int, claim: str) -> bool:
    """Another playground process asks for a stop (control.py): ours to do only if
    this process runs the sandbox's server of that claim. True once it is stopped and
    its last events are written (the stop returns after they were queued; the sync
    waits for the writer), so the asker's next run is numbered after them."""
    if supervisor().stop(str(sandbox_id), tag=claim) is None:
        return False
    if not ingestor().sync(control.SYNC_WAIT):
        log.warning("sandbox %s: its last events were not written within %s s",
                    sandbox_id, control.SYNC_WAIT)
    log.info("sandbox %s: stopped at the request of another process", sandbox_id)
    return True


def delete(sandbox: Sandbox) -> None:
    """Stop, then delete the row as it is now (a Start may have claimed it since):
    ``_deleted`` ends whatever that row still ran and removes the files."""
    stop(sandbox)
    with transaction.atomic():
        row = Sandbox.objects.select_for_update().filter(pk=sandbox.pk).first()
        if row is not None:
            row.delete()


@receiver(post_delete, sender=Sandbox, dispatch_uid="sandbox-deleted")
def _deleted(sender: Any, instance: Sandbox, **kwargs: Any) -> None:
    """A sandbox's row is gone, however (the API, the admin and its bulk action, a
    deleted user's cascade): its server must not run on unseen, nor its files stay.
    After the commit: ending a process takes seconds, too long to hold a transaction."""
    released = (claims.Released(instance.run_by, instance.claim, instance.pid, instance.port)
                if instance.is_live else None)
    # Taken now: Django sets the instance's pk to None once the deletion is done.
    sandbox_id, folders = instance.pk, (root_of(instance), modes.config_dir(instance))
    program = instance.is_program

    def clean_up() -> None:
        end(sandbox_id, released)
        program_kind.end_survivors(sandbox_id, program, deleted=True)  # then its folder
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        ingestor().status(str(sandbox_id))  # its traffic page's viewers learn it is gone

    transaction.on_commit(clean_up)
