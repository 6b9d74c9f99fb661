"""The disk a running program may fill: its folder, watched from outside.

Plain Python (no Django). RLIMIT_FSIZE bounds each file and RLIMIT_NOFILE the open ones
only: a program could write one 64 MiB file after another (or millions of empty ones)
until the disk, and the playground's database on it, is full. No quota exists for one
folder without a filesystem of its own, so the supervisor measures the folder while the
program runs (``watch``, every ``INTERVAL`` seconds) and ends the sandbox past
``ProgramLimits.folder_bytes`` or ``folder_entries``. A bound, not a quota: a program
may overshoot it by what it writes in one interval. Measured from here, not by the
launcher, because the program (same uid) can freeze its launcher.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

INTERVAL = 0.5  # seconds between two measures


def usage(root: str, *, stop_after: int) -> tuple[int, int]:
    """(bytes on disk, entries) below ``root``, counting up to ``stop_after`` entries
    (a folder of millions is over any bound: no need to walk it all). No symlink is
    followed (``os.fwalk``: the program owns the folder and may swap names as we walk);
    a name gone meanwhile is skipped; a file with several links counts once."""
    total = entries = 0
    seen: set[int] = set()
    for _folder, dirs, files, folder_fd in os.fwalk(root, follow_symlinks=False):
        for name in dirs + files:
            entries += 1
            if entries > stop_after:
                return total, entries
            try:
                st = os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
            except OSError:
                continue
            if st.st_nlink > 1:
                if st.st_ino in seen:
                    continue
                seen.add(st.st_ino)
            total += st.st_blocks * 512
    return total, entries


def watch(root: str, max_bytes: int, max_entries: int, ended: threading.Event,
          over: Callable[[int, int], None], interval: float = INTERVAL) -> None:
    """Until ``ended`` is set, measure ``root``; once past a bound, call ``over(bytes,
    entries)`` (it ends the sandbox) and return."""
    while not ended.wait(interval):
        try:
            used, entries = usage(root, stop_after=max_entries)
        except OSError:  # the folder itself is gone: nothing to bound
            return
        if used > max_bytes or entries > max_entries:
            over(used, entries)
            return


def start(key: str, root: str, bounds: tuple[int, int], ended: threading.Event,
          over: Callable[[int, int], None]) -> None:
    """``watch`` in a daemon thread of its own (it ends with the sandbox)."""
    threading.Thread(target=watch, args=(root, *bounds, ended, over), daemon=True,
                     name=f"sandbox-{key}-folder").start()
