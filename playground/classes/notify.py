"""How a change of a student's sandbox reaches their teacher's board (docs/classes.md).

Every change a sandbox's own viewers hear of already goes through ``traffic.live.publish``
(its status, a run begun or ended, a check finished or a check run ended); this module
listens there (``live.also_tell``) and, for those messages, sends the board a small
``{"type": "board.student", "user": ID}`` on the channel-layer group ``class-<id>`` of
each class the sandbox's owner is in. Through the channel layer, so a board open in
another daphne process hears it too (with Redis). Sandboxes created or deleted, and
students joining or leaving (``{"type": "board.members"}``), come from the models'
signals, after their transaction commits (and a login, which may carry a session's
sandboxes into the account).

Coalesced: a check run sends a message per check, a restart a status and a run. Changes
are gathered for ``COALESCE_SECONDS`` on the ASGI server's loop, then the owners and
their classes are read in one query and each (class, student) is told once. The board's
consumer reads the row from the database, so a message only says *who* changed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.contrib.auth import user_logged_in
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from ..class_models import Membership, whole_class_deleted
from ..models import Sandbox
from ..traffic import live

log = logging.getLogger(__name__)

# Long enough to fold a check run's burst (a message per check) and a restart's status
# and run into one row update, short against the board's goal of one second.
COALESCE_SECONDS = 0.1
# The live messages that change a board row (traffic batches do not: the board shows no
# exchange counts, and a flood must not reach it).
BOARD_MESSAGES = frozenset({"sandbox.status", "checks.progress", "traffic.run"})


def group_name(class_id: int | str) -> str:
    """The channel-layer group of a class's board viewers."""
    return f"class-{class_id}"


_lock = threading.Lock()
_sandboxes: set[int] = set()  # changed, owners not looked up yet
_users: set[int] = set()  # changed students
# The loop a flush is scheduled on, else None. A loop, not a flag: a flush scheduled on
# a loop that stopped before it ran (a server restarted in the same process, a test's
# loop) must not keep every later change waiting for it.
_scheduled: asyncio.AbstractEventLoop | None = None
_flushing: set[asyncio.Task] = set()  # the loop keeps only weak references to tasks


def on_publish(sandbox_id: int | str, message: dict[str, Any]) -> None:
    """``live.publish``'s listener (any thread): note a sandbox whose row changed."""
    if message.get("type") in BOARD_MESSAGES:
        _note(sandbox_id=int(sandbox_id))


def student_changed(user_id: int) -> None:
    """A student's row changed in a way no live message says (a sandbox created or
    deleted)."""
    _note(user_id=user_id)


def members_changed(class_id: int) -> None:
    """Someone joined or left the class: its boards reload the whole list."""
    _send([(group_name(class_id), {"type": "board.members"})])


def _note(sandbox_id: int | None = None, user_id: int | None = None) -> None:
    global _scheduled
    loop = live.current_loop()
    if loop is None:  # no ASGI server in this process (a management command)
        if _direct_layer() is not None:
            _send([(group_name(c), {"type": "board.student", "user": u}) for c, u in
                   _targets({sandbox_id} if sandbox_id is not None else set(),
                            {user_id} if user_id is not None else set())])
        return
    with _lock:
        if sandbox_id is not None:
            _sandboxes.add(sandbox_id)
        if user_id is not None:
            _users.add(user_id)
        if _scheduled is loop:
            return
        _scheduled = loop
    try:
        loop.call_soon_threadsafe(_start_flush, loop)
    except RuntimeError:  # the loop closed just now: nobody left to tell
        with _lock:
            _scheduled = None


def _start_flush(loop: asyncio.AbstractEventLoop) -> None:
    task = loop.create_task(_flush())
    _flushing.add(task)
    task.add_done_callback(_flushing.discard)


async def _flush() -> None:
    global _scheduled
    await asyncio.sleep(COALESCE_SECONDS)
    with _lock:
        sandboxes, users = set(_sandboxes), set(_users)
        _sandboxes.clear()
        _users.clear()
        _scheduled = None
    try:
        # Not thread-sensitive: the lookup must not queue behind the site's sync views.
        targets = await database_sync_to_async(_targets, thread_sensitive=False)(
            sandboxes, users)
        layer = get_channel_layer()
        for class_id, user_id in targets:
            await layer.group_send(group_name(class_id),
                                   {"type": "board.student", "user": user_id})
    except Exception:  # noqa: BLE001 - a board misses one update; the next one heals it
        log.warning("could not tell the class boards", exc_info=True)


def _targets(sandboxes: set[int], users: set[int]) -> list[tuple[int, int]]:
    """(class id, student id) for each class of each owner of these sandboxes."""
    owners = set(users)
    if sandboxes:
        owners |= set(Sandbox.objects.filter(pk__in=sandboxes, user__isnull=False)
                      .values_list("user_id", flat=True))
    if not owners:
        return []
    return list(Membership.objects.filter(user_id__in=owners)
                .values_list("classroom_id", "user_id"))


def _send(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Send from any thread: on the ASGI server's loop when this process has one, else
    directly when the layer reaches other processes (_direct_layer)."""
    if live.current_loop() is not None:
        for group, message in messages:
            live.publish_group(group, message)
        return
    layer = _direct_layer()
    if layer is None:
        return
    for group, message in messages:
        try:
            async_to_sync(layer.group_send)(group, message)
        except Exception:  # noqa: BLE001 - the change is stored; boards read it later
            log.warning("could not tell the board of %s", group, exc_info=True)


def _direct_layer() -> Any:
    """The channel layer when it reaches other processes (Redis), else None: an
    in-memory layer without a server in this process has nobody to tell."""
    layer = get_channel_layer()
    return None if layer is None or isinstance(layer, InMemoryChannelLayer) else layer


# ----- the models' signals (registered on import: apps.py imports this module) ---------


@receiver(post_save, sender=Sandbox, dispatch_uid="board-sandbox-created")
def _sandbox_created(sender: Any, instance: Sandbox, created: bool, **kwargs: Any) -> None:
    if created and instance.user_id is not None:
        user_id = instance.user_id
        transaction.on_commit(lambda: student_changed(user_id))


@receiver(post_delete, sender=Sandbox, dispatch_uid="board-sandbox-deleted")
def _sandbox_deleted(sender: Any, instance: Sandbox, **kwargs: Any) -> None:
    if instance.user_id is not None:
        user_id = instance.user_id
        transaction.on_commit(lambda: student_changed(user_id))


@receiver(post_save, sender=Membership, dispatch_uid="board-member-joined")
@receiver(post_delete, sender=Membership, dispatch_uid="board-member-left")
def _members(sender: Any, instance: Membership, **kwargs: Any) -> None:
    # A save that only updates changes no list; a class deleted has no list left (its
    # boards close: classes/access.py tells its teacher).
    if kwargs.get("created", True) and not whole_class_deleted(kwargs.get("origin")):
        class_id = instance.classroom_id
        transaction.on_commit(lambda: members_changed(class_id))


@receiver(user_logged_in, dispatch_uid="board-student-logged-in")
def _logged_in(sender: Any, user: Any, **kwargs: Any) -> None:
    """Logging in carries the session's sandboxes into the account (accounts.py, by a
    bulk update: no signal of its own), so a student's row may have gained some."""
    user_id = user.pk
    transaction.on_commit(lambda: student_changed(user_id))


live.also_tell(on_publish)
