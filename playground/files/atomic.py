"""Atomic file writes: the one way the playground puts bytes where a server reads them.

A running henaserver may read any file at any moment (a page, the rules file it re-reads
when it changes), so it must see the old bytes or the new ones, never half of either:
bytes go to a temporary file in the same folder, which ``os.replace`` then moves over
the target in one step (a rename within one file system is atomic on POSIX).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from .safepaths import TEMP_PREFIX


def new_temp(directory: str | os.PathLike[str]) -> tuple[BinaryIO, str]:
    """An open temporary file in ``directory`` (hidden from listings by its prefix) and
    its path. Readable by the server: mkstemp makes 0600, a site's files are 0644."""
    fd, temp = tempfile.mkstemp(dir=directory, prefix=TEMP_PREFIX, suffix=".tmp")
    os.fchmod(fd, 0o644)
    return os.fdopen(fd, "wb"), temp


def replace(temp: str, target: str | os.PathLike[str]) -> None:
    """Move ``temp`` over ``target`` in one step.

    henaserver notices a change by (mtime, size), and so do the ETags it sends: two
    writes of the same size within one tick of the file system's clock would look
    unchanged, so the new file's mtime is moved past the old one's."""
    try:
        old = os.stat(target).st_mtime_ns
    except FileNotFoundError:
        old = None
    if old is not None and os.stat(temp).st_mtime_ns <= old:
        os.utime(temp, ns=(old + 1000, old + 1000))
    os.replace(temp, target)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (making its folder), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    file, temp = new_temp(path.parent)
    try:
        with file:
            file.write(data)
        replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
