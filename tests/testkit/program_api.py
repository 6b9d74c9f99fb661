"""Program sandboxes through the playground's JSON API (test_program_api*.py): create,
post, wait for a status, and the isolation fixture's check."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .services import unavailable
from .waiting import wait_until

LIST = "/api/sandboxes/"


def api_create(client: Any, port: int, *, status: int = 201, headers: dict | None = None,
               **fields: Any) -> dict[str, Any]:
    """A program sandbox (``kind`` "program" unless given), answered ``status``."""
    response = client.post(LIST, {"name": "mine", "port": port, "kind": "program", **fields},
                           content_type="application/json", **(headers or {}))
    assert response.status_code == status, response.content
    return response.json()


def api_post(client: Any, url: str, data: dict | None = None, **headers: Any) -> Any:
    return client.post(url, data or {}, content_type="application/json", **headers)


def api_put(client: Any, url: str, data: dict, **headers: Any) -> Any:
    return client.put(url, data, content_type="application/json", **headers)


def wait_status(client: Any, url: str, status: str, timeout: float = 15.0) -> dict:
    """The sandbox's JSON once its status is ``status``."""
    last: dict[str, Any] = {}

    def reached() -> dict | None:
        last["data"] = data = client.get(url).json()
        return data if data["status"] == status else None

    return wait_until(reached, timeout, f"the sandbox to become {status}", interval=0.05,
                      explain=lambda: f"it is: {last.get('data')}")


def get_json(client: Any, url: str, ready: Callable[[dict], Any],
             timeout: float = 15.0) -> dict:
    """GET ``url`` until ``ready(json)`` is true; that JSON."""
    last: dict[str, Any] = {}

    def answered() -> dict | None:
        last["data"] = data = client.get(url).json()
        return data if ready(data) else None

    return wait_until(answered, timeout, f"{url} to be ready", interval=0.05,
                      explain=lambda: f"last: {last.get('data')}")


def isolation_or_skip() -> None:
    """bwrap and root, as program sandboxes need (skip here, fail on CI)."""
    if shutil.which("bwrap") is None:
        unavailable("bubblewrap", "not installed (apt-get install bubblewrap)")
    if os.geteuid() != 0:
        unavailable("root", "programs run as their own uid, which needs root")
    if not os.path.exists("/usr/bin/python3"):
        unavailable("/usr/bin/python3", "the programs' Python (apt-get install python3)")


@contextlib.contextmanager
def reachable_folder() -> Iterator[Path]:
    """A folder a program's own uid can reach (0755 up to /): pytest's tmp folders are
    under /tmp/pytest-of-root (0700), which bwrap, running as that uid, cannot bind.
    Short, too: a Unix socket's path is at most 107 bytes."""
    folder = Path(tempfile.mkdtemp(prefix="prog-"))
    try:
        folder.chmod(0o755)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def isolated_playground(settings: Any) -> Iterator[Any]:
    """The playground's settings for program sandboxes under the real bubblewrap, as
    root (skipped here without it, failed on CI): a data folder the programs' uids can
    reach; every sandbox stopped before it goes."""
    from playground.sandboxes import runtime

    isolation_or_skip()
    settings.PLAYGROUND_START_TIMEOUT = 10
    with reachable_folder() as folder:
        settings.PLAYGROUND_DATA_DIR = folder / "data"
        yield settings
        runtime.stop_all()  # before its folder goes
