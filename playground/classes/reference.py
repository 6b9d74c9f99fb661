"""The reference of a broadcast: what henaserver in **full mode** answers to the same
bytes, serving the same folder as the student's sandbox.

One throwaway henaserver child per distinct folder, started through a Supervisor of its
own (never the runtime's: its callbacks would feed the reference's traffic into a
student's history) on a port the system chooses (``--port 0``: nothing to reserve, no
race), and stopped when the broadcast ends. henaserver is a read-only static server,
so serving a student's folder cannot change it. The playground still never imports
henaserver: it runs it, like every sandbox.

Why not one henaserver for the whole class: Last-Modified, ETag and the listing of a
folder come from the student's own files, so the reference has to serve exactly those.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from django.conf import settings

from ..compose import composer
from ..sandboxes.runtime import child_limit_args
from ..sandboxes.supervisor import Supervisor

REFERENCE_HOST = "127.0.0.1"

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
    """The reference servers of one broadcast, one per folder, started on first use
    (concurrent askers of one folder share its start) and all stopped by ``close``."""

    def __init__(self) -> None:
        self._ports: dict[str, asyncio.Future[int]] = {}
        self._keys: list[str] = []

    async def port_for(self, folder: str) -> int:
        """The port of the reference server for ``folder`` (StartError if it fails)."""
        if folder not in self._ports:
            key = f"reference-{next(_keys)}"
            self._keys.append(key)
            self._ports[folder] = asyncio.ensure_future(asyncio.to_thread(
                _start, key, folder))
        return await asyncio.shield(self._ports[folder])

    async def answer(self, folder: str, data: bytes, pieces: int,
                     delay_ms: int) -> composer.Result:
        """What full-mode henaserver answers to ``data`` from ``folder``."""
        port = await self.port_for(folder)
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
