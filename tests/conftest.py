"""Shared by every test package: small helpers only (each package has its own conftest)."""

import socket
import time
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


def _pid_gone(pid: int, timeout: float = 5.0) -> bool:
    """True once ``pid`` has exited within ``timeout`` seconds (a zombie waiting for its
    reaper counts as exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def pid_gone():
    """pid_gone(pid, timeout=5.0): see _pid_gone."""
    return _pid_gone
