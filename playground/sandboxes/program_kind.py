"""The program kind in the site: a sandbox whose port is served by the learner's own
program behind the capture relay (docs/program-sandboxes.md, docs/api.md).

What is here: the policy (without isolation, programs are offered only to a single
local user), reading a create or a ``PUT .../program/`` body, writing the main file,
the ``ProgramSpec`` a start hands to the Supervisor, and how a program's end and its
syntax error are told. Running it is ``programs.py`` and ``Supervisor.start_program``.

The program's source is a file of the sandbox (its working directory's ``main_file``),
so it is written like any upload: ``SiteFiles.write_many`` (per-file and per-sandbox
limits, the owner's quota, a temporary file moved into place atomically). A program
reads it only when it starts: an edit while it runs takes effect at the next restart.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import get_language, gettext, gettext_noop

from ..files.safepaths import UnsafePath, check_relpath
from ..files.storage import files_of, root_of
from ..models import Sandbox
from ..refusals import Message, Refusal, Size
from . import budgets, modes, programs, starters
from .exits import PROGRAM_SYNTAX_ERROR, RELAY_STOPPED, ExitInfo, StartError, last_output

HENASERVER, PROGRAM = Sandbox.Kind.HENASERVER, Sandbox.Kind.PROGRAM
KINDS = tuple(Sandbox.Kind.values)
# A program sandbox's ``mode`` column, so its runs say what served them (runs.js).
PROGRAM_MODE = "program"
DEFAULT_MAIN_FILE = "main.py"

UNKNOWN_KIND = gettext_noop("unknown kind %(kind)s; choose one of %(choices)s")
NOT_OFFERED = gettext_noop(
    "programs cannot run on this playground: %(why)s, and without isolation they are "
    "offered only to a single local user (not with logins, not in production)")
NOT_LOCAL = gettext_noop(
    "programs cannot run for you on this playground: %(why)s, and without isolation "
    "they are offered only to a user on the playground's own computer (you reach it "
    "over the network)")
UNISOLATED = gettext_noop(
    "your program runs without isolation here (%(why)s): it can reach the network and "
    "write outside its folder, as you can")
# A few words each, shown inside the sentences above. programs.isolation_missing's
# reasons (English), as the page words them; another reason is shown as it is.
WHY = {"no bwrap": gettext_noop("bubblewrap (bwrap) is not installed"),
       "not root": gettext_noop("the playground does not run as root, so it cannot give "
                                "each program its own user")}
PROGRAM_ONLY = gettext_noop('%(field)s is for a program sandbox: send "kind": "program" too')
BOTH_SOURCES = gettext_noop('send "source" or "starter", not both')
NOT_TEXT = gettext_noop("%(field)s must be a string")
UNKNOWN_STARTER = gettext_noop("there is no starter %(starter)s")
NOT_PYTHON = gettext_noop("the main file %(name)s must be a Python file (ending in .py)")
TOO_LARGE = gettext_noop("the program is %(size)s; the limit per file is %(limit)s")
NO_MODE = gettext_noop("a program sandbox has no mode or rules: your program decides how it "
                       "answers; edit it instead")
NOT_A_PROGRAM = gettext_noop("this sandbox runs henaserver, not a program of yours")
NO_MAIN_FILE = gettext_noop("there is no %(name)s in this sandbox to run: write it in the "
                            "editor or upload it")
SAVED_RUNNING = gettext_noop("saved; your program is running the version before: restart "
                             "it to run this one")
UNREACHABLE = gettext_noop(
    "the playground cannot run programs: their users cannot reach the folder %(folder)s "
    "(it is not open to others; the playground's administrator can run chmod o+x on it)")
EXITED = gettext_noop("your program exited (%(exit)s); its last output: %(last)s")
EXITED_SILENTLY = gettext_noop("your program exited (%(exit)s) without a word of output")
# The refusals ``spec`` raises as a StartError (a start already holding its claim):
# stored on the row, they are shown as errors like exits.START_REFUSALS.
START_REFUSALS = frozenset({NOT_OFFERED, NOT_LOCAL, NO_MAIN_FILE, UNREACHABLE})
RELAY_GONE = gettext_noop("stopped: the playground's capture relay stopped because of an "
                          "error on its side, so your program was stopped too; the details "
                          "are in the playground's log. Start it again")


# ----- isolation and the policy (issue 13 point 5) ---------------------------------------


@functools.lru_cache(maxsize=8)
def _missing(bwrap: str) -> str | None:
    return programs.isolation_missing(bwrap)


def isolation() -> str | None:
    """None when programs run under bubblewrap here, else why not (English, a key of
    ``WHY``). Asked once per bwrap path: the machine does not change under us."""
    return _missing(settings.PLAYGROUND_BWRAP)


def offered_unisolated() -> bool:
    """Programs without isolation are for one local user: never behind logins (a class)
    or in production. Each request must come from this machine too (``_refusal``)."""
    return not (settings.PLAYGROUND_REQUIRE_LOGIN or settings.PLAYGROUND_PRODUCTION)


def _why(reason: str) -> Message | str:
    return Message(WHY[reason]) if reason in WHY else reason


def _refusal(reason: str, request: HttpRequest | None) -> Refusal | None:
    """Why an unisolated program is not for this request, or None. A playground without
    logins or production settings may still listen on the network (``make run
    HOST=0.0.0.0``): anyone reaching it would run code as we can. So the request must
    come from the machine itself (budgets.is_local: the one rule for a client's address,
    proxies included). None for ``request`` (a resume after an autoreload): the
    settings alone."""
    if not offered_unisolated():
        return Refusal(NOT_OFFERED, why=_why(reason))
    if request is not None and not budgets.is_local(request.META):
        return Refusal(NOT_LOCAL, why=_why(reason))
    return None


def check_offered(request: HttpRequest | None) -> None:
    """Refuse (403) to create or start a program where it would run unisolated and
    anyone but a single local user may reach the playground."""
    reason = isolation()
    refusal = None if reason is None else _refusal(reason, request)
    if refusal is not None:
        raise refusal.answer(403, isolation=reason)


def isolation_note(sandbox: Sandbox) -> str | None:
    """For the card: why this program runs without isolation, in the active language
    (None: isolated, or not a program)."""
    reason = isolation() if sandbox.is_program else None
    if reason is None:
        return None
    return Message(UNISOLATED, why=_why(reason)).translate(gettext)


def offer_json(request: HttpRequest) -> dict[str, Any]:
    """For the create form (``GET /api/sandboxes/``): may this client create programs
    here, and if they would run unisolated or are refused, the sentence that says why."""
    reason = isolation()
    if reason is None:
        return {"offered": True, "isolated": True, "why": None}
    refusal = _refusal(reason, request)
    message = refusal.message if refusal is not None else Message(UNISOLATED, why=_why(reason))
    return {"offered": refusal is None, "isolated": False,
            "why": message.translate(gettext)}


# ----- reading the learner's input -------------------------------------------------------


def parse_kind(body: dict[str, Any]) -> str:
    kind = body.get("kind", HENASERVER)
    if kind not in KINDS:
        raise Refusal(UNKNOWN_KIND, kind=repr(kind), choices=", ".join(KINDS)).answer(
            field="kind")
    return kind


def parse_main_file(value: object) -> str:
    """A main file's name, checked like any file name (safepaths), ending in .py."""
    if value is None:
        return DEFAULT_MAIN_FILE
    if not isinstance(value, str):
        raise Refusal(NOT_TEXT, field="main_file").answer(field="main_file")
    try:
        check_relpath(value)
    except Refusal as refusal:
        raise refusal.answer(field="main_file") from None
    if not value.endswith(".py") or value == ".py":
        raise Refusal(NOT_PYTHON, name=repr(value)).answer(field="main_file")
    return value


def parse_source(value: object) -> bytes:
    """The program's text as UTF-8 bytes, bounded like one uploaded file (before the
    sandbox's and the owner's quotas, checked as it is written)."""
    if not isinstance(value, str):
        raise Refusal(NOT_TEXT, field="source").answer(field="source")
    data = value.encode("utf-8")
    limit = settings.PLAYGROUND_MAX_FILE_BYTES
    if len(data) > limit:
        raise Refusal(TOO_LARGE, size=Size(len(data)), limit=Size(limit)).answer(
            413, field="source")
    return data


def parse_create(request: HttpRequest, body: dict[str, Any]) -> dict[str, Any] | None:
    """A create body's program part, checked before anything is created: None for a
    henaserver sandbox, else the row's fields and what to write (``files``)."""
    if parse_kind(body) != PROGRAM:
        for field in ("source", "starter", "main_file"):
            if field in body:  # never dropped unseen: the learner meant a program
                raise Refusal(PROGRAM_ONLY, field=field).answer(field="kind")
        return None
    check_offered(request)
    if "mode" in body or "rules" in body:
        raise Refusal(NO_MODE).answer(409, field="mode")
    if body.get("source") is not None and body.get("starter") is not None:
        raise Refusal(BOTH_SOURCES).answer(field="starter")
    fields = {"kind": PROGRAM, "mode": PROGRAM_MODE, "starter": ""}
    files: list[tuple[str, list[bytes]]] = []
    starter_id = body.get("starter")
    if starter_id is not None:
        starter = starters.get(starter_id)
        if starter is None:
            raise Refusal(UNKNOWN_STARTER, starter=repr(starter_id)).answer(field="starter")
        main_file = parse_main_file(body.get("main_file", starter.main_file))
        source = starters.source(starter.id, get_language())
        fields["starter"] = starter.id
        files = [(main_file, [parse_source(source)]), *starters.files(starter.id)]
    else:
        main_file = parse_main_file(body.get("main_file"))
        if body.get("source") is not None:
            files = [(main_file, [parse_source(body["source"])])]
    fields["main_file"] = main_file
    return {"fields": fields, "files": files}


def refuse_mode(sandbox: Sandbox) -> None:
    """``mode`` and ``rules`` are henaserver's: 409 for a program sandbox."""
    if sandbox.is_program:
        raise Refusal(NO_MODE).answer(409)


# ----- the main file ---------------------------------------------------------------------


def write(sandbox: Sandbox, files: list[tuple[str, list[bytes]]]) -> list[str]:
    """Write a program's files all or none (limits, quota, atomic: SiteFiles)."""
    return files_of(sandbox).write_many(files) if files else []


def program_json(sandbox: Sandbox) -> dict[str, Any]:
    """``GET .../program/``: the main file's name and text (null when it is missing or
    not UTF-8 text; the files API still has its bytes)."""
    if not sandbox.is_program:
        raise Refusal(NOT_A_PROGRAM).answer(409)
    try:
        source: str | None = read_main_file(sandbox).decode("utf-8")
    except (OSError, UnicodeDecodeError, UnsafePath):
        source = None
    return {"main_file": sandbox.main_file, "source": source, "starter": sandbox.starter}


def read_main_file(sandbox: Sandbox) -> bytes:
    """The main file's bytes, read as the playground (root) reads a learner's files:
    the program runs as its own uid and writes in this folder, so a symlink it planted
    (main.py -> /work/main/data/secret_key) must never be followed out of it, nor a
    folder on the way swapped for one meanwhile: ``SiteFiles.open`` walks from the
    root's descriptor (files/beneath.py; O_NOFOLLOW on the last name was not enough)."""
    with files_of(sandbox, for_writing=False).open(sandbox.main_file) as file:
        return file.read(settings.PLAYGROUND_MAX_FILE_BYTES + 1)


def replace(sandbox: Sandbox, body: dict[str, Any], running: bool) -> dict[str, Any]:
    """``PUT .../program/``: ``{"source", "main_file"?}``. Allowed while the program runs;
    it reads its file at start, so ``restart_needed`` says the edit waits for a restart."""
    if not sandbox.is_program:
        raise Refusal(NOT_A_PROGRAM).answer(409)
    main_file = parse_main_file(body.get("main_file", sandbox.main_file))
    write(sandbox, [(main_file, [parse_source(body.get("source"))])])
    if main_file != sandbox.main_file:
        sandbox.main_file = main_file
        sandbox.save(update_fields=["main_file"])
    return {**program_json(sandbox), "restart_needed": running,
            "notice": gettext(SAVED_RUNNING) if running else ""}


def check_startable(sandbox: Sandbox, request: HttpRequest | None = None) -> None:
    """Before a program's start: the policy (for ``request``'s client when there is
    one), a main file to run, and folders its uid can reach (else bwrap would only say
    "Can't find source path")."""
    check_offered(request)
    try:
        files_of(sandbox, for_writing=False).file_path(sandbox.main_file)
    except (FileNotFoundError, UnsafePath):
        raise Refusal(NO_MAIN_FILE, name=sandbox.main_file).answer(409) from None
    if isolation() is None:
        for folder in (root_of(sandbox), run_dir(sandbox)):
            closed = closed_to_others(folder)
            if closed is not None:
                raise Refusal(UNREACHABLE, folder=str(closed)).answer(503)


def closed_to_others(path: Path) -> Path | None:
    """The first folder above ``path`` that another uid cannot pass through (no o+x),
    or None. The program's uid owns only its own two folders (programs.prepare); it is
    in no group of ours (``extra_groups=()``), so only the "others" bits apply."""
    for folder in reversed(path.parents):
        try:
            mode = folder.stat().st_mode
        except FileNotFoundError:
            return None  # made later, with the default 0755
        if not mode & 0o001:
            return folder
    return None


# ----- running it ------------------------------------------------------------------------


def run_dir(sandbox: Sandbox) -> Path:
    """Holds the program's Unix socket: beside its files, never inside (so the socket
    never shows in the file list), in the sandbox's private folder (made, and handed to
    the program's uid, by programs.prepare)."""
    return modes.config_dir(sandbox) / "run"


def spec(sandbox: Sandbox) -> programs.ProgramSpec:
    """What ``Supervisor.start_program`` runs for this row, from the settings, once
    ``check_startable`` agrees: its refusal is raised as a StartError, so that a start
    already holding the claim (a resume after an autoreload, sandboxes/boot.py, where
    the settings may have changed) records why on the row."""
    try:
        check_startable(sandbox)
    except Refusal as refusal:
        error = StartError("refused", refusal.message)
        error.status = refusal.status
        raise error from None
    starter = starters.get(sandbox.starter)
    return programs.ProgramSpec(
        files=str(root_of(sandbox)), run_dir=str(run_dir(sandbox)),
        main_file=sandbox.main_file,
        host=settings.PLAYGROUND_BIND_HOST, port=sandbox.port,
        uid=settings.PLAYGROUND_PROGRAM_UID_BASE + sandbox.pk,
        python=settings.PLAYGROUND_PROGRAM_PYTHON, bwrap=settings.PLAYGROUND_BWRAP,
        limits=programs.ProgramLimits(**settings.PLAYGROUND_PROGRAM_LIMITS),
        with_henaserver=bool(starter is not None and starter.with_henaserver))


def end_survivors(sandbox_id: int, program: bool, *, deleted: bool = False) -> None:
    """Once nothing of a program sandbox may run (stopped, or its row deleted): end
    every process of its uid (programs.end_every_process_of). Under bwrap the pid
    namespace and the run's control group end them; without a control group, a program
    that took over bwrap's pid 1 (docs/security.md) left survivors until the sandbox's
    next start, and for ever once deleted (review).

    After a stop only while the row, locked, has no claim: a start takes one (in this
    or another playground process) before it runs anything as the uid, and its own
    ``programs.prepare`` sweeps first, so a newer run is never hit. A deleted row's id
    is never given again (AUTOINCREMENT, sequences): its uid is nobody's any more.
    Only for a program sandbox (``program``), as root, and never for an id that is
    someone else's (programs.id_owner)."""
    uid = settings.PLAYGROUND_PROGRAM_UID_BASE + sandbox_id
    if not program or os.geteuid() != 0 or programs.id_owner(uid) is not None:
        return
    if deleted:
        programs.end_every_process_of(uid)
        return
    with transaction.atomic():
        row = Sandbox.objects.select_for_update().filter(pk=sandbox_id) \
            .values_list("kind", "claim").first()
        if row == (PROGRAM, ""):
            programs.end_every_process_of(uid)


def expected_end(info: ExitInfo) -> Message | None:
    """A running program's end that is no crash of the learner's, and its message: exit
    code 0 (programs.exit_outcome: the tutorial's "answer once" server), or our relay
    ending by itself (exits.RELAY_STOPPED), which takes the program with it."""
    if info.stop_reason == RELAY_STOPPED:
        return Message(RELAY_GONE)
    return programs.exit_outcome(info)


def crash_message(info: ExitInfo) -> Message:
    """A program's own end otherwise: "exited (exit code N)" and its last output (point
    7). Its stderr_tail is its console, both streams (exits.ExitInfo); the line told
    is its stderr's last on a failing exit (exits.last_output)."""
    last = last_output(info.stderr_tail or info.stdout_tail, info.errors_tail,
                       info.returncode)
    exit = info.message()  # at the CPU limit: "used its N s of CPU"
    if not last:
        return Message(EXITED_SILENTLY, exit=exit)
    return Message(EXITED, exit=exit, last=last)


def program_error(sandbox: Sandbox) -> dict[str, Any] | None:
    """The syntax error that stopped the last start, for the editor to mark: ``{line,
    offset, message}`` (the launcher's ``program.syntax_error``, kept in the start
    failure's parameters: exits.program_start_error), else None."""
    params = sandbox.message_params or {}
    if not sandbox.is_program or sandbox.message != PROGRAM_SYNTAX_ERROR:
        return None
    return {"line": params.get("line"), "offset": params.get("offset"),
            "message": params.get("message", "")}
