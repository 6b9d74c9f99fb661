"""Shared by every test package: small helpers only (each package has its own conftest)."""

import socket
from pathlib import Path

import pytest


def pytest_configure(config):
    # The playground's test database is a file here (settings.DATABASES TEST NAME).
    (Path(__file__).resolve().parent.parent / "test-data").mkdir(exist_ok=True)


def _free_port() -> int:
    """A port nothing listens on right now (the OS picks it; a hint, not a reservation)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def free_port() -> int:
    return _free_port()
