"""Shared by every test package: fixtures only. Helpers live in ``testkit`` (import it
by name); each package has its own conftest for its own fixtures."""

from pathlib import Path

import pytest
from testkit import ports, waiting


def pytest_configure(config):
    # The playground's test database is a file here (settings.DATABASES TEST NAME).
    (Path(__file__).resolve().parent.parent / "test-data").mkdir(exist_ok=True)


@pytest.fixture
def free_port() -> int:
    """A port nothing listens on and no other test was given (testkit.ports)."""
    return ports.free_port()


@pytest.fixture
def free_ports():
    """free_ports(n): n distinct ports, as ``free_port``."""
    return ports.free_ports


@pytest.fixture
def pid_gone():
    """pid_gone(pid, timeout=5.0): True once the process has exited (testkit.waiting)."""
    return waiting.pid_gone
