"""One stat per request: the stat-family system calls a real henaserver makes while it
serves N requests, counted by strace attached to it (a count, not a time).

A file in the root costs one ``lstat``, which is also the file's stat; each directory
on the way costs one more, because every name is checked for a symlink (the
no-escape guarantee of ``static.resolve_path``). Nothing is cached, so the count is the
same on every request.
"""

from __future__ import annotations

import re
import select
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from rawhttp import get
from support import INDEX_CSS, INDEX_HTML, ServerProcess
from testkit.services import unavailable

REQUESTS = 200
# The stat family as strace names it: stat, lstat, fstat, newfstatat, statx, ...
STAT_CALLS = "%stat,%fstat"
# Calls made once per batch, not per request (none today; room for a log rotation).
ONCE = 4


def strace_summary(path: Path) -> dict[str, int]:
    """Calls per system call name from ``strace -c`` output."""
    calls = {}
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 5 and re.fullmatch(r"[\d.]+", fields[0]) and fields[-1] != "total":
            calls[fields[-1]] = int(fields[3])
    return calls


def count_calls(pid: int, out: Path, work: Callable[[], None]) -> dict[str, int]:
    """Attach strace to ``pid``, run ``work``, detach: the calls made meanwhile."""
    if shutil.which("strace") is None:
        unavailable("strace", "not installed (apt-get install strace)")
    tracer = subprocess.Popen(
        ["strace", "-f", "-c", "-e", f"trace={STAT_CALLS},openat", "-p", str(pid),
         "-o", str(out)], stderr=subprocess.PIPE, text=True)
    try:
        assert tracer.stderr is not None
        # strace says "Process PID attached" once the calls are being traced.
        ready, _, _ = select.select([tracer.stderr], [], [], 10)
        line = tracer.stderr.readline() if ready else ""
        if "attached" not in line:
            tracer.kill()
            pytest.fail(f"strace did not attach: {line!r} {tracer.stderr.read()}")
        work()
    finally:
        tracer.send_signal(signal.SIGINT)  # detach; the summary goes to ``out``
        tracer.wait(10)
    return strace_summary(out)


@pytest.mark.parametrize("target,body,per_request", [
    ("/index.css", INDEX_CSS, 1),
    ("/", INDEX_HTML, 1),  # the root's index.html: the root itself is never stat-ed
    ("/sub/page.txt", b"a page in sub\n", 2),  # one lstat per name on the way
])
def test_stat_calls_per_request(start_server: Callable[..., ServerProcess], docroot: Path,
                                tmp_path: Path, target: str, body: bytes,
                                per_request: int) -> None:
    server = start_server(docroot, "--quiet", events=False)
    with server.raw() as conn:  # warm up: the first request loads what is loaded once
        assert conn.request(get(target)).body == body

        def serve() -> None:
            for _ in range(REQUESTS):
                assert conn.request(get(target)).body == body

        calls = count_calls(server.proc.pid, tmp_path / "strace.txt", serve)
    stats = sum(count for name, count in calls.items() if "stat" in name)
    # At least one per request, or strace saw nothing and the test proves nothing.
    assert REQUESTS * per_request <= stats <= REQUESTS * per_request + ONCE, calls
    # A small file is served from memory once read: no open per request either.
    assert calls.get("openat", 0) <= ONCE, calls
