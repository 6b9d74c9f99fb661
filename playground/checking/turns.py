"""Turns: how many check runs this process runs at once (PLAYGROUND_CHECK_RUNS_AT_ONCE).

A run's checks are threads of the playground's own process, and Python runs one thread
at a time (the GIL): a class starting its runs together would leave the threads that
store and show the live traffic waiting behind them (docs/benchmarks.md "A class of
60" measured it). So a run past the limit waits for a turn, in the order runs were
started, its row showing why (``WAITING``); a Stop, or the process ending, ends the wait.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings

# How often a waiting run looks again whether it was stopped from another process.
LOOK_EVERY = 1.0

_cond = threading.Condition()
_running = 0
_queue: deque[int] = deque()  # run ids waiting, the oldest first


def limit() -> int:
    return max(1, int(settings.PLAYGROUND_CHECK_RUNS_AT_ONCE))


@contextmanager
def turn(run_id: int, cancelled: threading.Event, on_wait: Callable[[int], None],
         stop_asked: Callable[[], bool]) -> Iterator[bool]:
    """Hold one of the process's turns for the block; yields False when the run was
    cancelled (``cancelled`` set, or ``stop_asked()``) before its turn came.
    ``on_wait(ahead)`` is called once, when the run must wait (``ahead``: the runs
    before it, running or waiting)."""
    global _running
    got = False
    with _cond:
        _queue.append(run_id)
        try:
            if _running >= limit() or _queue[0] != run_id:
                on_wait_ahead = _running + _queue.index(run_id)
                _cond.release()  # on_wait writes the row: never while holding the lock
                try:
                    on_wait(on_wait_ahead)
                finally:
                    _cond.acquire()
            while not cancelled.is_set():
                if _running < limit() and _queue[0] == run_id:
                    _running += 1
                    got = True
                    break
                if not _cond.wait(LOOK_EVERY):
                    _cond.release()
                    try:
                        if stop_asked():
                            cancelled.set()
                    finally:
                        _cond.acquire()
        finally:
            _queue.remove(run_id)
            _cond.notify_all()  # the next one may go now
    try:
        yield got
    finally:
        if got:
            with _cond:
                _running -= 1
                _cond.notify_all()


def wake_all() -> None:
    """Let waiting runs look at their ``cancelled`` now (a Stop, the process ending)."""
    with _cond:
        _cond.notify_all()
