"""The bridge from plain threads to the websocket side: the ASGI server's event loop.

The ingest writer (traffic/ingest.py) is a plain thread. Sending to the channel layer
from it with ``async_to_sync(layer.group_send)`` was measured to deliver seconds late
(NOTES.md: the receiver woke 4.8 s later with InMemoryChannelLayer), because it runs the
coroutine on a private loop that the consumers never share. Instead, the ASGI app is
wrapped in ``LoopCapture``, which remembers the loop daphne runs it on, and ``publish()``
schedules ``group_send`` onto that loop with ``asyncio.run_coroutine_threadsafe`` (about
1 ms). Until the first request or websocket arrives there is no loop and no viewer, so
``publish()`` simply returns False: late viewers backfill from the database anyway.

The loop is recorded on every scope, not only the first: tests run each case on a new
loop, and a dead loop would swallow every message.

``LoopLagMonitor`` (enabled with PLAYGROUND_LOOP_LAG_LOG=1) measures how late the loop
wakes a 50 ms sleeper and logs the worst lag each second: the flood benchmark reads it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

log = logging.getLogger(__name__)

_loop: asyncio.AbstractEventLoop | None = None
_monitor: asyncio.Task | None = None
# Told of every publish(), from the publishing thread: the class board hears of its
# students' changes here (classes/notify.py) without traffic/ knowing about classes.
_listeners: list[Callable[[int | str, dict[str, Any]], None]] = []


def also_tell(listener: Callable[[int | str, dict[str, Any]], None]) -> None:
    """Call ``listener(sandbox_id, message)`` at every publish() (once per listener).
    It must return quickly and never raise into the publisher."""
    if listener not in _listeners:
        _listeners.append(listener)


def group_name(sandbox_id: int | str) -> str:
    """The channel-layer group of one sandbox's viewers."""
    return f"sandbox-{sandbox_id}"


class LoopCapture:
    """ASGI middleware: records the running loop, then calls the wrapped app."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        remember_loop(asyncio.get_running_loop())
        return await self.app(scope, receive, send)


def remember_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Use ``loop`` for publish() from now on (the ASGI server's loop)."""
    global _loop, _monitor
    if _loop is loop:
        return
    _loop = loop
    if getattr(settings, "PLAYGROUND_LOOP_LAG_LOG", False):
        _monitor = loop.create_task(LoopLagMonitor().run())


def current_loop() -> asyncio.AbstractEventLoop | None:
    """The ASGI server's loop, if a request has shown it to us and it still runs."""
    loop = _loop
    return loop if loop is not None and loop.is_running() else None


def publish(sandbox_id: int | str, message: dict[str, Any]) -> bool:
    """Send ``message`` to the sandbox's group from any thread, without waiting.

    Returns False when there is no loop yet (nobody can be watching). InMemoryChannelLayer
    drops silently when a viewer's channel holds 100 messages, so callers send one small
    message per sandbox per batch, and viewers resume from the database.
    """
    for listener in _listeners:
        try:
            listener(sandbox_id, message)
        except Exception:  # a listener's bug must not keep the message from viewers
            log.exception("a publish listener failed")
    return publish_group(group_name(sandbox_id), message)


def publish_group(group: str, message: dict[str, Any]) -> bool:
    """``publish()`` to any group (the class board's too): scheduled on the ASGI
    server's loop from any thread; False when there is no loop yet."""
    loop = _loop
    if loop is None or loop.is_closed():
        return False
    layer = get_channel_layer()
    if layer is None:
        return False

    def send() -> None:  # on the loop: the coroutine exists only if the loop runs it
        task = loop.create_task(layer.group_send(group, message))
        _sending.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(_sent)

    try:
        loop.call_soon_threadsafe(send)
    except RuntimeError:  # the loop closed just now
        return False
    return True


_sending: set[asyncio.Task] = set()


def _sent(future: Any) -> None:
    _sending.discard(future)
    if future.cancelled():
        return
    exc = future.exception()
    if exc is not None:
        log.warning("channel layer send failed: %r", exc)


class LoopLagMonitor:
    """Sleeps 50 ms at a time and logs, once a second, the worst extra wait seen."""

    PERIOD = 0.05

    async def run(self) -> None:
        worst = 0.0
        window_start = time.monotonic()
        while True:
            before = time.monotonic()
            await asyncio.sleep(self.PERIOD)
            now = time.monotonic()
            worst = max(worst, now - before - self.PERIOD)
            if now - window_start >= 1.0:
                log.info("loop lag max %.1f ms", worst * 1000)
                worst, window_start = 0.0, now
