"""Wait for a condition instead of sleeping for a guessed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float = 10.0, what: str = "",
               interval: float = 0.02, explain: Callable[[], str] | None = None) -> T:
    """Call ``condition`` until it returns something true and return that; fail the test
    with ``what`` (and the last value) after ``timeout`` seconds. ``explain``, if given,
    is called then and its text added to the failure (a server's log, say).

    To give up early (a server process exited, say), let ``condition`` raise."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            message = (f"timed out after {timeout:g} s waiting for "
                       f"{what or getattr(condition, '__name__', 'a condition')}"
                       f" (last value: {value!r})")
            if explain is not None:
                message += "\n" + explain()
            raise AssertionError(message)
        time.sleep(interval)


def pid_gone(pid: int, timeout: float = 5.0) -> bool:
    """True once ``pid`` has exited within ``timeout`` seconds (a zombie waiting for its
    reaper counts as exited); False if it is still running then."""
    def gone() -> bool:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):  # reaped before open, or before read
            return True
        return state in ("Z", "X")

    try:
        return wait_until(gone, timeout, f"pid {pid} to exit", interval=0.05)
    except AssertionError:
        return False
