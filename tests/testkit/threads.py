"""Which threads a test may leave running when it ends, and which it may not.

The root conftest checks after every test (``no_thread_left_running``): a thread the
test started must have ended, unless it is a daemon (the supervisor's pipe readers are,
by design: see playground/sandboxes/supervisor.py) or lives as long as the test process
by design (``long_lived``). An ``ingest-writer`` must have ended even though it is a
daemon: each holds a queue and a database connection, and would write into the next
test's database.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable

_declared: list[Callable[[], Iterable[threading.Thread]]] = []


def outlive_tests(threads: Callable[[], Iterable[threading.Thread]]) -> None:
    """Declare threads that a session-scoped fixture keeps for the whole run (started
    lazily, so during whichever test first needs them): ``threads()`` names them at
    each check."""
    _declared.append(threads)


def long_lived() -> set[threading.Thread]:
    """Threads that live as long as the test process by design, whichever test happened
    to start them: the playground's own ingest writer (``ingest.ingestor()``), asgiref's
    one thread for thread-sensitive sync code, and those declared by ``outlive_tests``."""
    found: set[threading.Thread] = set()
    ingest = sys.modules.get("playground.traffic.ingest")
    own = getattr(getattr(ingest, "_ingestor", None), "_thread", None)
    if own is not None:
        found.add(own)
    sync = sys.modules.get("asgiref.sync")
    executor = getattr(getattr(sync, "SyncToAsync", None), "single_thread_executor", None)
    found.update(getattr(executor, "_threads", ()))
    for threads in _declared:
        found.update(threads())
    return found


def left_running(before: set[threading.Thread]) -> list[threading.Thread]:
    """Threads started since ``before`` that must not outlive a test (module docstring)."""
    allowed = long_lived()
    return [t for t in threading.enumerate()
            if t not in before and t not in allowed and t.is_alive()
            and (not t.daemon or t.name == "ingest-writer")]
