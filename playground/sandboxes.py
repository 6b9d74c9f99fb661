"""The Django side of sandboxes: the one Supervisor of this process, the database rows
that mirror it, ownership, ports and files. Views call these functions and stay thin.

The Supervisor is created lazily by ``supervisor()`` on first use in the process that
serves requests, never in ``AppConfig.ready()`` (which also runs in the autoreloader's
parent and in every management command). Creating it reconciles the database: a row
that says running or starting cannot be true any more, since this process has no
children yet, so it is marked stopped and one click starts it again.

The process that starts a child owns it. Several daphne processes (REDIS_URL) each own
the children they started; stop requests for another's child go through control.py
(docs/deploy.md).
"""

from __future__ import annotations

import atexit
import logging
import re
import secrets
import shutil
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.http.request import split_domain_port
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from . import accounts, control, modes, ports
from .errors import ApiError
from .ingest import ingestor
from .models import Sandbox
from .sitefiles import Limits, SiteFiles
from .supervisor import MESSAGE_TEMPLATES, NO_ERROR_MESSAGE, ExitInfo, StartError, Supervisor

log = logging.getLogger(__name__)
Status = Sandbox.Status

_lock = threading.Lock()
_supervisor: Supervisor | None = None

RESTARTED_MESSAGE = gettext_noop("stopped: the playground restarted")  # translated in to_json
CRASHED_MESSAGE = gettext_noop("the server stopped unexpectedly (%(exit)s)")
QUOTA_LEFT = gettext_noop("what is left of your disk quota (all your sandboxes together)")


# ----- the process-wide supervisor -----------------------------------------------------


def supervisor() -> Supervisor:
    """This process's Supervisor, created (and the database reconciled) on first use."""
    global _supervisor
    with _lock:
        if _supervisor is None:
            sup = Supervisor(
                on_event=_on_event, on_exit=_on_exit, on_output=_on_output,
                start_timeout=settings.PLAYGROUND_START_TIMEOUT,
                cwd=str(settings.BASE_DIR),
                # No --quiet: the access log is the traffic page's server console.
                extra_args=child_limit_args(),
            )
            # atexit runs on Ctrl+C and on the autoreloader's sys.exit(3); after kill -9
            # the children still go, because their stdin pipe closes.
            atexit.register(sup.stop_all)
            reconcile(sup)
            _supervisor = sup
        return _supervisor


def reconcile(sup: Supervisor) -> int:
    """Mark every row that claims a process we do not own as stopped. Returns the count."""
    # Several processes (control.py): a sibling's children are alive, and not stale.
    live = list(sup.pids().values()) + control.pids_run_elsewhere()
    stale = Sandbox.objects.filter(status__in=Sandbox.LIVE_STATUSES)
    if live:
        stale = stale.exclude(pid__in=live)
    count = stale.update(status=Status.STOPPED, pid=None, message=RESTARTED_MESSAGE,
                         stopped_at=timezone.now())
    if count:
        log.info("reconciled %d sandbox(es) left running by a previous playground", count)
    return count


def _on_event(key: str, event: dict[str, Any]) -> None:
    """Every event of every child, on its reader thread: handed to the ingestor's
    bounded queue (never blocks), which stores exchanges and totals and tells viewers."""
    ingestor().event(key, event)


def _on_output(key: str, stream: str, line: str) -> None:
    """Every stdout/stderr line of every child: the traffic page's server console."""
    ingestor().output(key, stream, line)


def _on_exit(key: str, info: ExitInfo) -> None:
    """A child that was running has exited. A stop we asked for is recorded by stop()."""
    if info.requested:
        return
    # Filter on the pid: if the learner already started a new process, leave it alone.
    mode = Sandbox.objects.filter(pk=int(key)).values_list("mode", flat=True).first()
    expected = modes.exit_outcome(mode or "", info.returncode, info.stdout_tail)
    if expected:  # e.g. the "once" mode exits after one request: that is no crash
        Sandbox.objects.filter(pk=int(key), pid=info.pid).update(
            status=Status.STOPPED, pid=None, exit_code=None, message=expected,
            stderr_tail="", stopped_at=timezone.now())
        ingestor().status(key)
        return
    Sandbox.objects.filter(pk=int(key), pid=info.pid).update(
        status=Status.CRASHED, pid=None, exit_code=info.returncode,
        stderr_tail="\n".join(info.stderr_tail),
        message=CRASHED_MESSAGE % {"exit": info.describe()},  # English; see to_json
        stopped_at=timezone.now(),
    )
    ingestor().status(key)


# ----- ownership -----------------------------------------------------------------------


def owned(request: HttpRequest) -> QuerySet[Sandbox]:
    """The sandboxes of this request's user, or of its browser session."""
    return owned_by(request.user, request.session)


def owned_by(user: Any, session: Any) -> QuerySet[Sandbox]:
    """The sandboxes of ``user``, or of ``session`` when nobody is logged in (the
    websocket consumer has a user and a session but no HttpRequest).

    Every ownership lookup comes through here, so this is where the database is
    reconciled with this process's children (``supervisor()``, once per process) before
    anyone reads a status: a page, the API, or a websocket reconnecting after a restart."""
    supervisor()
    if user is not None and user.is_authenticated:
        return _of_owner(user.pk, None)
    if accounts.login_required_everywhere():  # sessions own nothing then
        return Sandbox.objects.none()
    return _of_owner(None, session.get("owner_token") if session is not None else None)


def _of_owner(user_id: int | None, token: str | None) -> QuerySet[Sandbox]:
    """The sandboxes of a user (by id), else of an anonymous owner token."""
    if user_id is not None:
        return Sandbox.objects.filter(user_id=user_id)
    if not token:
        return Sandbox.objects.none()
    return Sandbox.objects.filter(user=None, owner_token=token)


def owner_fields(request: HttpRequest) -> dict[str, Any]:
    if request.user.is_authenticated:
        return {"user": request.user}
    token = request.session.get("owner_token")
    if not token:
        token = request.session["owner_token"] = secrets.token_urlsafe(24)
    return {"owner_token": token}


def get_owned(request: HttpRequest, sandbox_id: int) -> Sandbox:
    """The sandbox if this session owns it; otherwise 404, exactly as if it did not exist."""
    try:
        return owned(request).get(pk=sandbox_id)
    except Sandbox.DoesNotExist:
        raise ApiError(404, _("no such sandbox (it may belong to another browser session)")) \
            from None


def page_sandbox(request: HttpRequest, sandbox_id: int) -> Sandbox:
    """``get_owned`` for HTML pages: another session gets the site's friendly 404 page."""
    try:
        return get_owned(request, sandbox_id)
    except ApiError:
        raise Http404("no such sandbox") from None


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
    """The port as an int, or ApiError 400 saying why it cannot be used."""
    try:
        number = ports.check_in_range(port, settings.PLAYGROUND_PORT_RANGE, own_ports(request))
    except ports.PortError as exc:
        raise ApiError(400, exc.translate(gettext), field="port") from None
    other = Sandbox.objects.filter(port=number).exclude(pk=getattr(sandbox, "pk", None)).first()
    if other is not None:
        mine = owned(request).filter(pk=other.pk).exists()
        message = (_('port %(port)s is already used by your sandbox "%(name)s"') if mine
                   else _("port %(port)s is already used by another sandbox"))
        raise ApiError(400, message % {"port": number, "name": other.name}, field="port")
    if not ports.is_free(settings.PLAYGROUND_BIND_HOST, number):
        raise ApiError(400, _("port %(port)s is already used by another program on this "
                              "computer; choose another one") % {"port": number}, field="port")
    return number


# ----- create, start, stop, delete -----------------------------------------------------


def create(request: HttpRequest, name: object, port: object) -> Sandbox:
    supervisor()
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, _("give the sandbox a name"), field="name")
    name = name.strip()
    if len(name) > 60:
        raise ApiError(400, _("the name is longer than 60 characters"), field="name")
    limit = settings.PLAYGROUND_MAX_SANDBOXES_PER_OWNER
    if owned(request).count() >= limit:
        raise ApiError(400, _("you already have %(limit)s sandboxes, the limit; delete one "
                              "to create another") % {"limit": limit})
    number = check_port(request, port)
    try:
        sandbox = Sandbox.objects.create(name=name, port=number, **owner_fields(request))
    except IntegrityError:  # another request took the port a moment ago
        raise ApiError(400, gettext("port %(port)s is already used by another sandbox")
                       % {"port": number}, field="port") from None
    root = root_of(sandbox)
    if root.exists():  # left over from an earlier database
        shutil.rmtree(root)
    root.mkdir(parents=True)
    return sandbox


def start(request: HttpRequest, sandbox: Sandbox) -> Sandbox:
    """Start the sandbox's server and return once it listens (idempotent)."""
    sup = supervisor()
    child = sup.get(sandbox.key)
    if child is not None or control.runs_elsewhere(sandbox):
        return sandbox
    if sandbox.port in own_ports(request):
        raise ApiError(409, gettext("port %(port)s is the playground's own port; delete this "
                                    "sandbox and create one on another port")
                       % {"port": sandbox.port})
    root = root_of(sandbox)
    root.mkdir(parents=True, exist_ok=True)
    control.ensure_listening()  # so another playground process can ask us to stop it
    with transaction.atomic():  # count and claim together (SQLite: one writer at a time)
        running = Sandbox.objects.filter(status__in=Sandbox.LIVE_STATUSES) \
            .exclude(pk=sandbox.pk).count()
        if running >= settings.PLAYGROUND_MAX_RUNNING_SANDBOXES:
            raise ApiError(503, _("the playground already runs %(count)s sandboxes, as many "
                                  "as this computer allows; stop one of yours or try again "
                                  "later") % {"count": running})
        _save(sandbox, status=Status.STARTING, pid=None, exit_code=None, stderr_tail="",
              message="", requests=0, errors=0, bytes_in=0, bytes_out=0)
    # Through the ingest queue, so it lands after the previous run's last events and
    # before this run's first: a new run starts with an empty traffic history.
    ingestor().reset(sandbox.key)
    ingestor().status(sandbox.key)
    try:
        child = sup.start(sandbox.key, root=str(root), host=settings.PLAYGROUND_BIND_HOST,
                          port=sandbox.port, args=modes.henaserver_args(sandbox))
    except StartError as exc:
        _save(sandbox, status=Status.STOPPED, exit_code=exc.returncode,
              stderr_tail="\n".join(exc.stderr_tail), message=exc.message,
              stopped_at=timezone.now())
        ingestor().status(sandbox.key)
        raise ApiError(409 if exc.reason == "port_in_use" else 503,
                       message_for_people(exc.message), sandbox=to_json(request, sandbox)) \
            from None
    _save(sandbox, status=Status.RUNNING, pid=child.pid, started_at=timezone.now())
    ingestor().status(sandbox.key)
    if child.exit_info is not None:  # died between `listening` and our save
        _on_exit(sandbox.key, child.exit_info)
        sandbox.refresh_from_db()
    return sandbox


def stop(sandbox: Sandbox, message: str = "") -> Sandbox:
    """Stop the sandbox's server, wherever it runs (another process: control.py)."""
    if supervisor().get(sandbox.key) is None and control.runs_elsewhere(sandbox):
        return control.stop_elsewhere(sandbox, message)
    supervisor().stop(sandbox.key)
    if sandbox.is_live:
        _save(sandbox, status=Status.STOPPED, pid=None, message=message,
              stopped_at=timezone.now())
        ingestor().status(sandbox.key)
    return sandbox


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


# ----- files and presentation ----------------------------------------------------------


def root_of(sandbox: Sandbox) -> Path:
    return Path(settings.PLAYGROUND_DATA_DIR) / "sandboxes" / str(sandbox.pk)


def files_of(sandbox: Sandbox, *, for_writing: bool = True) -> SiteFiles:
    """The sandbox's files. Only writes need the owner-wide quota, which walks all the
    owner's other sandboxes: listing, reading and deleting pass ``for_writing=False``."""
    root = root_of(sandbox)
    root.mkdir(parents=True, exist_ok=True)
    return SiteFiles(root, limits(sandbox) if for_writing else limits())


def limits(sandbox: Sandbox | None = None) -> Limits:
    """The file limits; for a sandbox, its bytes are also capped by what its owner's
    other sandboxes leave of PLAYGROUND_MAX_OWNER_BYTES (the per-owner disk quota)."""
    per_sandbox = settings.PLAYGROUND_MAX_SANDBOX_BYTES
    cap, name = per_sandbox, Limits.bytes_limit_name
    if sandbox is not None:
        others = _of_owner(sandbox.user_id, sandbox.owner_token).exclude(pk=sandbox.pk)
        used = sum(SiteFiles(root_of(o), limits()).usage()[1] for o in others
                   if root_of(o).is_dir())
        left = max(0, settings.PLAYGROUND_MAX_OWNER_BYTES - used)
        if left < cap:
            cap, name = left, QUOTA_LEFT
    return Limits(max_file_bytes=settings.PLAYGROUND_MAX_FILE_BYTES,
                  max_sandbox_bytes=cap, max_files=settings.PLAYGROUND_MAX_FILES,
                  bytes_limit_name=name)


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


def to_json(request: HttpRequest, sandbox: Sandbox) -> dict[str, Any]:
    pk = sandbox.pk

    def url(name: str) -> str:
        return reverse(f"playground:{name}", args=[pk])

    return {
        "id": pk,
        "name": sandbox.name,
        "port": sandbox.port,
        "status": sandbox.status,
        "pid": sandbox.pid,
        "url": sandbox_url(request, sandbox),
        "exit_code": sandbox.exit_code,
        "stderr_tail": sandbox.stderr_tail.splitlines() if sandbox.stderr_tail else [],
        # Messages are stored in English (msgids, or a template filled in) and shown in
        # the request's language.
        "message": message_for_people(sandbox.message),
        "problem": problem_for_people(sandbox.message, sandbox.exit_code),
        "created_at": sandbox.created_at.isoformat(),
        "started_at": sandbox.started_at.isoformat() if sandbox.started_at else None,
        "uptime_seconds": sandbox.uptime_seconds(),
        "requests": sandbox.requests,
        "errors": sandbox.errors,
        "bytes_in": sandbox.bytes_in,
        "bytes_out": sandbox.bytes_out,
        "mode": sandbox.mode,
        "links": {
            "self": url("api-sandbox"), "start": url("api-start"), "stop": url("api-stop"),
            "restart": url("api-restart"), "files": url("api-files"),
            "starter": url("api-starter"), "page": url("sandbox-page"),
            "traffic": url("traffic-page"), "exchanges": url("api-exchanges"),
            "mode": url("api-mode"), "rules": url("api-rules"), "compose": url("api-compose"),
        },
    }


def _template_pattern(template: str) -> re.Pattern[str]:
    """A regex that reads the parameters back out of ``template % params``."""
    parts = re.split(r"%\((\w+)\)s", template)
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.*?)"
                    for i, part in enumerate(parts))
    return re.compile(regex, re.DOTALL)


# Parametrised English messages that reach people as plain text (the supervisor's start
# failures and exit descriptions, crash notes stored on a row).
_STORED = [(template, _template_pattern(template))
           for template in (*MESSAGE_TEMPLATES, CRASHED_MESSAGE)]


def message_for_people(text: str) -> str:
    """A message kept in English (a msgid, or one of the templates above filled in), in
    the active language. ``exit`` parameters are translated too; server output (the
    ``last`` line of stderr) stays as the server wrote it. Unknown text is returned as is.
    """
    if not text:
        return ""
    for template, pattern in _STORED:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        params = match.groupdict()
        if "exit" in params:
            params["exit"] = message_for_people(params["exit"])
        if params.get("last") == NO_ERROR_MESSAGE:
            params["last"] = gettext(params["last"])
        return gettext(template) % params
    return gettext(text)


def problem_for_people(message: str, exit_code: int | None) -> str:
    """The one sentence a page shows about how a sandbox ended, in the active language:
    the message, plus the exit code when the message does not already state it.
    Decided here on the stored English text, so no page has to search translated text."""
    text = message_for_people(message)
    if exit_code is not None and "exit code" not in message:
        suffix = gettext("(exit code %(code)s)") % {"code": exit_code}
        text = f"{text} {suffix}" if text else suffix
    return text


def child_limit_args() -> tuple[str, ...]:
    """henaserver options that make each child cap its own resources (it applies them
    at start-up: setting rlimits between fork and exec needs preexec_fn, unsafe in a
    threaded parent). 0 in a setting means "no limit"."""
    out: list[str] = []
    files = settings.PLAYGROUND_CHILD_FILES
    if files:
        # A connection may hold its socket and a file being sent; the rest is headroom.
        out += ["--limit-files", str(files), "--max-connections", str(max(1, files // 2))]
    if settings.PLAYGROUND_CHILD_MEMORY_MB:
        out += ["--limit-memory", str(settings.PLAYGROUND_CHILD_MEMORY_MB)]
    if settings.PLAYGROUND_CHILD_CPU_SECONDS:
        out += ["--limit-cpu", str(settings.PLAYGROUND_CHILD_CPU_SECONDS)]
    return tuple(out)


def stop_all() -> None:
    """Stop every child of this process (tests use it between cases)."""
    if _supervisor is not None:
        _supervisor.stop_all()



def console_tail(sandbox: Sandbox) -> list[dict[str, str]]:
    """The last lines of the server's stdout and stderr, for a viewer that just arrived
    (the supervisor keeps them for a live child; a stopped one left its stderr here)."""
    child = supervisor().get(sandbox.key)
    if child is not None:
        return ([{"stream": "stdout", "text": t} for t in list(child.stdout_tail)] +
                [{"stream": "stderr", "text": t} for t in list(child.stderr_tail)])
    return [{"stream": "stderr", "text": t} for t in sandbox.stderr_tail.splitlines()]
