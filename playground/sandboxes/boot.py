"""What a serving playground process does when it starts, and before an autoreload.

``begin()`` is called once by ``playground/asgi.py``, which only a process that serves
requests imports (daphne, or runserver's worker; never the autoreloader's parent or a
management command, where ``AppConfig.ready()`` would also run). It starts the
heartbeat (heartbeat.py) and the culler (culling.py); on the first beat the Supervisor
is made (reconciling the database) and the sandboxes an autoreload stopped are started
again, without waiting for a request.

Autoreload, as decided (docs/architecture.md "Claims, heartbeats and resume"):

* Django's reloader sends ``file_changed`` in the worker, just before ``sys.exit(3)``.
  ``_reloading`` marks this process's live sandboxes ``resume``; at exit
  (runtime.shutdown) they are stopped as always, saying they will start again.
* The next worker resumes each ``resume`` row on its port, through the same claim as a
  Start, as a new run of it (a new server), with its traffic history kept.
* Ctrl+C or SIGTERM sends no ``file_changed``: nothing is resumed. A ``resume`` older
  than ``RESUME_WITHIN`` (the new worker never came: a syntax error, then Ctrl+C) is
  dropped, so a later start of the playground does not start servers by surprise.
"""

from __future__ import annotations

import atexit
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.autoreload import file_changed

from ..models import Sandbox
from ..refusals import Message
from . import claims, culling, heartbeat, lifecycle, runtime

log = logging.getLogger(__name__)

# A reload takes a second or two; an edit that breaks the code may take the learner a
# few minutes to fix, and the sandboxes should still come back then.
RESUME_WITHIN = timedelta(minutes=10)


def begin() -> None:
    """Start this serving process's heartbeat (resuming sandboxes on its first beat)
    and listen for the autoreloader. Off with settings.PLAYGROUND_HEARTBEAT."""
    if not settings.PLAYGROUND_HEARTBEAT:
        return
    file_changed.connect(_reloading, dispatch_uid="playground-resume")
    heartbeat.start(on_first_beat=_first_beat)
    culling.start()  # idle and abandoned sandboxes (culling.py)
    atexit.register(culling.stop)


def _first_beat() -> None:
    runtime.supervisor()  # made now, not at the first request: reconciles the rows
    resume()


def _reloading(sender: Any, file_path: Any, **kwargs: Any) -> None:
    """The autoreloader is about to restart this worker: what runs here comes back."""
    count = Sandbox.objects.filter(run_by=heartbeat.me(), status__in=Sandbox.LIVE_STATUSES) \
        .update(resume=True)
    log.info("%s changed: %d sandbox(es) will start again after the reload", file_path, count)
    # Returning None: a true value would cancel the reload.


def resume() -> int:
    """Start again the sandboxes an autoreload stopped (recently). Returns the count."""
    rows = Sandbox.objects.filter(resume=True)
    too_old = rows.filter(stopped_at__lt=timezone.now() - RESUME_WITHIN)
    too_old.update(resume=False, **runtime.message_fields(Message(runtime.RESTARTED_MESSAGE)))
    count = 0
    for sandbox in rows:
        try:
            with lifecycle.launching() as token:
                claim = claims.take(sandbox.pk, settings.PLAYGROUND_MAX_RUNNING_SANDBOXES,
                                    lambda row: True, token, **runtime.message_fields(None))
                if claim is not None:  # (a Start by the learner may have come first)
                    lifecycle.launch(sandbox, claim)
                    count += 1
        except Exception:  # a refusal (the limit, a port taken): the row says why
            log.warning("sandbox %s could not be resumed", sandbox.pk, exc_info=True)
            Sandbox.objects.filter(pk=sandbox.pk).update(resume=False)
    if count:
        log.info("resumed %d sandbox(es) after the reload", count)
    return count
