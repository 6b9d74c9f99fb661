"""Who is still there: open traffic viewers per sandbox, and anonymous owners seen.

The idle culler (culling.py) stops a sandbox that nobody watches and nothing reaches,
and deletes an anonymous owner's sandboxes once the owner has not been seen for long.
Both facts must be visible to every playground process (a viewer's websocket may be
served by one daphne and the sandbox by another), so they are kept in the database,
written at a bounded rate:

* ``Sandbox.viewed_at``: each process counts its own open traffic websockets
  (``opened``/``closed``, called by traffic/consumer.py on its event loop, the
  ``closed`` from a ``finally``) and, on each heartbeat,
  refreshes ``viewed_at`` of the sandboxes it has viewers for (``flush``): at most one
  UPDATE a beat, and only for rows older than ``refresh_every()``. A process that dies
  stops refreshing, so its viewers stop counting by themselves.
* ``Sandbox.seen_at``: ``OwnerSeenMiddleware`` marks an anonymous session's sandboxes
  seen on its requests, at most once per ``refresh_every()`` per session and process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, OrderedDict
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from ..models import Sandbox

log = logging.getLogger(__name__)

# Sessions remembered per process for the throttle: beyond this the oldest is
# forgotten (and its next request writes once more), so the dict stays bounded.
SEEN_REMEMBERED = 10_000
# A refresh never waits longer than this, however long the culling times are.
REFRESH_AT_MOST = 60.0

_viewers: Counter[int] = Counter()
_seen: OrderedDict[str, float] = OrderedDict()
_lock = threading.Lock()


def refresh_every() -> float:
    """Seconds between two refreshes of a fact: a small part of the shortest culling
    time, so that a viewer or an owner who is there is never taken for gone."""
    times = [t for t in (settings.PLAYGROUND_IDLE_STOP, settings.PLAYGROUND_ABANDONED_DELETE)
             if t > 0]
    return min([REFRESH_AT_MOST] + [t / 4 for t in times])


def opened(sandbox_id: int) -> None:
    """A traffic websocket of this process began watching the sandbox. Only the count:
    no I/O, so the consumer calls it on the event loop, where nothing can come between
    it and the ``try`` whose ``finally`` calls ``closed`` (then ``mark_viewed`` in a
    thread)."""
    with _lock:
        _viewers[sandbox_id] += 1


def closed(sandbox_id: int) -> None:
    """That websocket ended, however it ended (traffic/consumer.py calls it from a
    ``finally``: channels calls no ``disconnect()`` when a handler raised)."""
    with _lock:
        _viewers[sandbox_id] -= 1
        if _viewers[sandbox_id] <= 0:
            del _viewers[sandbox_id]


def mark_viewed(sandbox_id: int) -> None:
    """``viewed_at`` = now, as a viewer arrives and leaves (in a thread). A database that
    refuses it costs a websocket nothing: the count above still holds, and the next
    ``flush`` writes it."""
    try:
        Sandbox.objects.filter(pk=sandbox_id).update(viewed_at=timezone.now())
    except DatabaseError as exc:
        log.warning("sandbox %s: could not note its viewer (%s)", sandbox_id, exc)


def viewing(sandbox_id: int) -> bool:
    """Does this process have an open viewer of the sandbox?"""
    with _lock:
        return _viewers[sandbox_id] > 0 if sandbox_id in _viewers else False


def flush() -> int:
    """On a heartbeat: ``viewed_at`` = now for the sandboxes this process's viewers
    watch, where it is older than ``refresh_every()``. Returns the rows written."""
    with _lock:
        watched = list(_viewers)
    if not watched:
        return 0
    now = timezone.now()
    stale = now - timedelta(seconds=refresh_every())
    return Sandbox.objects.filter(pk__in=watched).exclude(viewed_at__gte=stale) \
        .update(viewed_at=now)


def owner_seen(token: str) -> None:
    """An anonymous owner (its session's token) made a request: its sandboxes were
    seen, written at most once per ``refresh_every()`` from this process."""
    now = time.monotonic()
    with _lock:
        last = _seen.get(token)
        if last is not None and now - last < refresh_every():
            return
        _seen[token] = now
        _seen.move_to_end(token)
        while len(_seen) > SEEN_REMEMBERED:
            _seen.popitem(last=False)
    Sandbox.objects.filter(user=None, owner_token=token).update(seen_at=timezone.now())


class OwnerSeenMiddleware:
    """Marks an anonymous session's sandboxes as seen, after the view (so a session
    that just got its token on this request is seen too)."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        # Only where the view read the session anyway (pages, the API): a static file
        # costs no session lookup for this.
        if session is None or not session.accessed:
            return response
        token = session.get("owner_token")
        user = getattr(request, "user", None)
        if token and response.status_code < 500 and not (
                user is not None and user.is_authenticated):
            try:
                owner_seen(token)
            except DatabaseError as exc:  # the answer is made: a note must not spoil it
                log.warning("could not mark an anonymous owner seen (%s)", exc)
        return response
