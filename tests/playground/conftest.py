"""Fixtures for the playground's tests: a private data directory per test, a port range
that covers the OS's free ports, and no sandbox process left behind between tests."""

import io
import time
import zipfile

import pytest
from django.test import Client

from playground import sandboxes


@pytest.fixture(autouse=True)
def playground_settings(settings, tmp_path):
    settings.PLAYGROUND_DATA_DIR = tmp_path / "data"
    # The test client talks to "testserver:80"; ports come from the OS's free ones.
    settings.PLAYGROUND_PORT_RANGE = (1024, 65535)
    settings.PLAYGROUND_MAX_FILE_BYTES = 1000
    settings.PLAYGROUND_MAX_SANDBOX_BYTES = 3000
    settings.PLAYGROUND_MAX_FILES = 5
    settings.PLAYGROUND_MAX_REQUEST_BYTES = 3000 + 64 * 1024
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 5
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000 + 1024
    yield settings
    sandboxes.stop_all()


@pytest.fixture
def other_client() -> Client:
    """A second browser: its own session, so it must not see the first one's sandboxes."""
    return Client()


def _make_zip(members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16)  # S_IFLNK | 0777, as `zip -y` writes it
            archive.writestr(info, target)
    return buffer.getvalue()


def _pid_gone(pid: int, timeout: float = 5.0) -> bool:
    """True once ``pid`` has exited (a zombie waiting for its reaper counts as exited)."""
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
def make_zip():
    return _make_zip


@pytest.fixture
def pid_gone():
    return _pid_gone
