"""Fixtures for the henaserver tests. Helpers and constants live in ``support.py`` (a
plain module, imported by name); nothing imports this file.

The fixtures run the REAL server, ``python -m henaserver --port 0 ...``, in a child process
(see ``support.ServerProcess``).
"""

from __future__ import annotations

import random
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from relaykit import BadServer, start_relay
from support import (
    BIG_SIZE,
    INDEX_CSS,
    INDEX_HTML,
    OUTSIDE_SECRET,
    TYPED_FILES,
    UNICODE_NAME,
    UNICODE_TEXT,
    PortReservations,
    ServerProcess,
    launch,
    png,
)


@pytest.fixture
def start_server() -> Iterator[Callable[..., ServerProcess]]:
    """Start servers with extra options: ``start_server(root, "--body-cap", "10")``.
    Each gets ``--port 0`` and, unless ``events=False``, an event pipe (``--events-fd``)."""
    started: list[ServerProcess] = []

    def start(root: Path, *extra: str, events: bool = True, **kwargs: Any) -> ServerProcess:
        args = ["--root", str(root), "--port", "0", *extra]
        server = ServerProcess(args, root, events, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.finish()


@pytest.fixture(scope="module")
def server(docroot: Path) -> Iterator[ServerProcess]:
    """One server over the tutorial docroot, shared by a test module."""
    process = launch(docroot)
    yield process
    process.finish()


@pytest.fixture
def reserve_ports() -> Iterator[Callable[[int], list[int]]]:
    """``reserve_ports(n)``: n distinct ports that stay free for this test (see
    ``support.PortReservations``), released when it ends."""
    reservations = PortReservations()
    yield reservations.take
    reservations.release()


# --- the document root ----------------------------------------------------------------

@pytest.fixture(scope="session")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory outside the root holding a secret that must never be served."""
    path = tmp_path_factory.mktemp("outside")
    (path / "passwd").write_bytes(OUTSIDE_SECRET)
    (path / "secret.txt").write_bytes(OUTSIDE_SECRET)
    return path


@pytest.fixture(scope="session")
def docroot(tmp_path_factory: pytest.TempPathFactory, outside: Path) -> Path:
    """The tutorial's page plus the files the tests need."""
    root = tmp_path_factory.mktemp("docroot")
    (root / "index.html").write_bytes(INDEX_HTML)
    (root / "index.css").write_bytes(INDEX_CSS)
    (root / "logo.png").write_bytes(png(16, 16))
    (root / "sub").mkdir()
    (root / "sub" / "index.html").write_bytes(b"<!DOCTYPE html><h1>sub index</h1>\n")
    (root / "sub" / "page.txt").write_bytes(b"a page in sub\n")
    (root / "noindex").mkdir()
    (root / "noindex" / "hidden-name.txt").write_bytes(b"listed nowhere\n")
    (root / "ディレクトリ").mkdir()
    (root / "ディレクトリ" / "index.html").write_bytes(b"<h1>unicode dir</h1>\n")
    (root / UNICODE_NAME).write_bytes(UNICODE_TEXT)
    (root / "big.bin").write_bytes(random.Random(5).randbytes(BIG_SIZE))
    (root / "types").mkdir()
    for name, (content, _kind) in TYPED_FILES.items():
        (root / "types" / name).write_bytes(content)
    (root / "link-out.txt").symlink_to(outside / "secret.txt")
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    (root / "link-in.css").symlink_to(root / "index.css")
    (root / "mutable").mkdir()
    return root


@pytest.fixture
def behind() -> Iterator[Callable[..., tuple[BadServer, ServerProcess]]]:
    """``behind(script, *relay_options, hold=False)``: a bad server and a relay to it."""
    started: list[tuple[BadServer, ServerProcess]] = []

    def start(script: Callable[[socket.socket, bytes], None], *options: str,
              hold: bool = False) -> tuple[BadServer, ServerProcess]:
        bad = BadServer(script, hold=hold)
        relay = start_relay(bad.address, *options)
        started.append((bad, relay))
        return bad, relay

    yield start
    for bad, relay in started:
        relay.finish()
        bad.stop()
