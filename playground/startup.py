"""What a playground process prepares for itself, so `python manage.py runserver` works
on a fresh clone with nothing else run first (docs/deploy.md, "The literal path").

* ``compile_stale_translations()``: ``.po`` -> ``.mo`` when a ``.mo`` is missing or older
  than its ``.po`` (AppConfig.ready(): cheap when fresh, a few stat calls). Written to a
  temporary file and renamed, so two processes starting at once never read half a file.
* ``migrate_embedded_database()``: apply missing migrations to a SQLite database, once
  per process, in the process that serves (asgi.py; runserver's worker). Never in
  AppConfig.ready(): that also runs in the autoreloader's parent and in every management
  command. PostgreSQL deployments keep ``manage.py migrate`` an explicit step.
* ``die_with_parent()``: the runserver worker ends when the runserver parent ends, even
  by ``kill -9`` (its sandboxes then see stdin EOF and end too).
"""

from __future__ import annotations

import ctypes
import fcntl
import logging
import os
import signal
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

log = logging.getLogger(__name__)

# Set by our runserver in the autoreloader's parent, read by its worker: the pid the
# worker must outlive no longer than (os.getppid() changes once the parent is gone).
PARENT_PID_VARIABLE = "PLAYGROUND_RUNSERVER_PID"
# linux/prctl.h: the signal a process gets when the thread that created it ends.
PR_SET_PDEATHSIG = 1


# ----- translations ------------------------------------------------------------------

def stale_catalogs() -> list[Path]:
    """The .po files whose .mo is missing or older than they are."""
    stale = []
    for base in settings.LOCALE_PATHS:
        for po in sorted(Path(base).glob("*/LC_MESSAGES/*.po")):
            mo = po.with_suffix(".mo")
            if not mo.exists() or mo.stat().st_mtime_ns < po.stat().st_mtime_ns:
                stale.append(po)
    return stale


def compile_stale_translations() -> list[Path]:
    """Compile each stale catalog (returns the .mo files written). A checkout that is
    not writable keeps its old catalogs, with a warning: English still works."""
    from .management.commands.compiletranslations import parse_po, write_mo

    written = []
    for po in stale_catalogs():
        mo = po.with_suffix(".mo")
        fd, temp = tempfile.mkstemp(dir=po.parent, prefix=".", suffix=".mo.tmp")
        os.close(fd)
        try:
            write_mo(parse_po(po), Path(temp))
            os.chmod(temp, 0o644)
            os.replace(temp, mo)
            written.append(mo)
        except OSError as exc:
            log.warning("could not compile %s: %s", po, exc)
        finally:
            Path(temp).unlink(missing_ok=True)
    return written


# ----- the embedded database ---------------------------------------------------------

def migrates_itself() -> bool:
    """SQLite (the embedded default, or a sqlite:// DATABASE_URL) is migrated at start;
    PLAYGROUND_AUTO_MIGRATE=false turns that off, and other databases never do it."""
    from django.db import connection

    return settings.PLAYGROUND_AUTO_MIGRATE and connection.vendor == "sqlite"


@contextmanager
def _migration_lock(database: Path):
    """One migrating process at a time for this database file. Two daphne processes
    starting together would otherwise both plan "0001 to apply" and the second would
    fail on "table already exists"; the second one waits, then finds nothing to do.
    (A transaction cannot do it: SQLite's schema editor refuses to run inside one.)"""
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{database}-migrate-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def migrate_embedded_database(out=None) -> int:
    """Apply any missing migration to the SQLite database, and say so on the console.
    Returns how many were applied."""
    if not migrates_itself():
        return 0
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    out = out or sys.stderr
    name = Path(connection.settings_dict["NAME"])
    with _migration_lock(name):
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if not plan:
            return 0
        out.write(f"Preparing the playground's database {name}: applying {len(plan)} "
                  "migrations (SQLite is migrated at start; no `manage.py migrate` "
                  "needed)...\n")
        out.flush()
        call_command("migrate", interactive=False, verbosity=0)
        out.write("Database ready.\n")
        out.flush()
    return len(plan)


# ----- runserver's worker ------------------------------------------------------------

def remember_parent() -> None:
    """In runserver's parent: tell the worker it is about to start whom to outlive."""
    if os.environ.get("RUN_MAIN") != "true":
        os.environ[PARENT_PID_VARIABLE] = str(os.getpid())


def die_with_parent() -> None:
    """In runserver's autoreload worker: get SIGTERM when the parent ends.

    PR_SET_PDEATHSIG fires when the *thread* that created us ends (NOTES.md); here that is
    the parent's main thread, which lives as long as runserver does, so it means "when
    runserver ends". A parent killed before the call is caught by the pid check after it.
    """
    expected = os.environ.get(PARENT_PID_VARIABLE)
    if os.environ.get("RUN_MAIN") != "true" or not expected or not sys.platform.startswith(
            "linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %s", ctypes.get_errno())
    if str(os.getppid()) != expected:
        os.kill(os.getpid(), signal.SIGTERM)
