"""The reference of a broadcast: what henaserver in **full mode** answers to the same
bytes, serving the same folder as the student's sandbox.

One throwaway henaserver child per distinct folder, started through a Supervisor of its
own (never the runtime's: its callbacks would feed the reference's traffic into a
student's history) on a port the system chooses (``--port 0``: nothing to reserve, no
race), and stopped when the broadcast ends. henaserver is a read-only static server,
so serving a student's folder cannot change it. The playground still never imports
henaserver: it runs it, like every sandbox.

Why not one henaserver for the whole class: Last-Modified and ETag come from the
student's own files (their times), so the reference has to serve the same bytes. But a
class often holds the same files (the starter site, untouched): folders whose files
are the same bytes under the same names share one reference (``fingerprint``), which
for a class of 30 is one henaserver start instead of 30 (docs/classes.md). Their
copies' times differ, so Last-Modified and ETag may differ from the student's: the diff
marks those as expected. A conditional request (If-Modified-Since...) is answered from
those times, so then only folders with the same times too share one.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import itertools
import os
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from django.conf import settings

from ..compose import composer
from ..sandboxes.runtime import child_limit_args
from ..sandboxes.supervisor import Supervisor

REFERENCE_HOST = "127.0.0.1"
# A folder larger than this is not fingerprinted (reading it costs more than a start):
# it gets a reference of its own. A student's quota is far below it.
MAX_FINGERPRINT_FILES = 2000
MAX_FINGERPRINT_BYTES = 64 * 1024 * 1024
# Header fields whose answer depends on the files' times (RFC 9110 section 13.1).
_CONDITIONAL = re.compile(rb"^if-(modified-since|unmodified-since|none-match|match|range)"
                          rb"[ \t]*:", re.IGNORECASE | re.MULTILINE)


def depends_on_times(data: bytes) -> bool:
    """Whether henaserver's answer to ``data`` may depend on the files' times."""
    return _CONDITIONAL.search(data) is not None


def fingerprint(folder: str, with_times: bool) -> str:
    """The same for two folders holding the same names with the same bytes (and, with
    ``with_times``, the same modification times), else different. A folder too large
    to read cheaply is its own fingerprint (its path)."""
    digest = hashlib.sha256()
    files = total = 0
    for parent, dirs, names in os.walk(folder):
        dirs.sort()
        relative = os.path.relpath(parent, folder)
        digest.update(b"D" + os.fsencode(relative) + b"\0")
        for name in sorted(names):
            path = os.path.join(parent, name)
            try:
                info = os.lstat(path)
                files, total = files + 1, total + info.st_size
                if files > MAX_FINGERPRINT_FILES or total > MAX_FINGERPRINT_BYTES:
                    return "folder:" + folder
                digest.update(b"F" + os.fsencode(os.path.join(relative, name)) + b"\0")
                digest.update(f"{info.st_mode:o} {info.st_size}".encode())
                if with_times:
                    digest.update(f" {info.st_mtime_ns}".encode())
                if os.path.islink(path):
                    digest.update(os.fsencode(os.readlink(path)))
                else:
                    with open(path, "rb") as file:
                        digest.update(hashlib.file_digest(file, "sha256").digest())
            except OSError:  # changed under us: no sharing for this folder
                return "folder:" + folder
    return "content:" + digest.hexdigest()

_lock = threading.Lock()
_supervisor: Supervisor | None = None
_keys = itertools.count(1)


def supervisor() -> Supervisor:
    """This process's Supervisor for reference servers, created on first use (never at
    import: management commands must not start anything)."""
    global _supervisor
    with _lock:
        if _supervisor is None:
            _supervisor = Supervisor(start_timeout=settings.PLAYGROUND_START_TIMEOUT,
                                     cwd=str(settings.BASE_DIR),
                                     extra_args=("--quiet", *child_limit_args()))
            atexit.register(_supervisor.stop_all)
        return _supervisor


class References:
    """The reference servers of one broadcast, one per distinct folder content
    (``fingerprint``), started on first use (concurrent askers of one content share its
    start) and all stopped by ``close``."""

    def __init__(self) -> None:
        self._ports: dict[str, asyncio.Future[int]] = {}
        self._keys: list[str] = []

    @property
    def started(self) -> int:
        """How many reference servers this broadcast started."""
        return len(self._keys)

    async def port_for(self, folder: str, with_times: bool = False) -> int:
        """The port of a reference server serving what ``folder`` holds (StartError if
        it fails)."""
        content = await asyncio.to_thread(fingerprint, folder, with_times)
        if content not in self._ports:
            key = f"reference-{next(_keys)}"
            self._keys.append(key)
            self._ports[content] = asyncio.ensure_future(asyncio.to_thread(
                _start, key, folder))
        return await asyncio.shield(self._ports[content])

    async def answer(self, folder: str, data: bytes, pieces: int,
                     delay_ms: int) -> composer.Result:
        """What full-mode henaserver answers to ``data`` from ``folder``."""
        port = await self.port_for(folder, depends_on_times(data))
        return await composer.send(REFERENCE_HOST, port, data, pieces, delay_ms)

    async def close(self) -> None:
        for future in self._ports.values():  # a start still under way ends first
            await asyncio.gather(future, return_exceptions=True)
        sup = supervisor()
        await asyncio.gather(*(asyncio.to_thread(sup.stop, key) for key in self._keys))


def _start(key: str, folder: str) -> int:
    child = supervisor().start(key, root=folder, host=REFERENCE_HOST, port=0,
                               args=("--mode", "full"))
    return child.port


@asynccontextmanager
async def references() -> AsyncIterator[References]:
    made = References()
    try:
        yield made
    finally:
        await made.close()
