"""Capture behind, memory bounded: a sandbox under --limit-memory answers every request
of a flood of large exchanges while nobody reads its events, drops capture and counts
it, and holds no more for capture than its event queue's bytes (docs/events.md)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from rawhttp import get
from support import read_pipe_while

PAGE = os.urandom(30 * 1024).hex().encode()  # 60 KB that does not compress
BODY = b"b" * 60_000
EVENT_QUEUE = 32 * 1024 * 1024
CONNECTIONS, REQUESTS = 4, 400  # about 160 KB of events each: ten times the queue


def _peak_rss(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_a_flood_of_large_exchanges_with_capture_stalled(start_server, tmp_path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "page.html").write_bytes(PAGE)
    read_end, write_end = os.pipe()  # not read until the flood is over
    try:
        server = start_server(root, "--events-fd", str(write_end), "--quiet",
                              "--limit-memory", "512", "--event-queue", str(EVENT_QUEUE),
                              events=False, pass_fds=(write_end,))
    finally:
        os.close(write_end)
    request = get("/page.html", extra=f"Content-Length: {len(BODY)}\r\n") + BODY
    with server.raw() as conn:  # warm: the page is cached, the writer thread runs
        assert conn.request(request).body == PAGE
    before = _peak_rss(server.proc.pid)

    answered: list[int] = []

    def client() -> None:
        ok = 0
        with server.raw(timeout=30) as conn:
            for _ in range(REQUESTS):
                response = conn.request(request)
                ok += response.status == 200 and response.body == PAGE
        answered.append(ok)

    clients = [threading.Thread(target=client) for _ in range(CONNECTIONS)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(60)
    grew = _peak_rss(server.proc.pid) - before
    assert answered == [REQUESTS] * CONNECTIONS  # every request answered, none failed

    returncodes: list[int] = []
    written = read_pipe_while(read_end, lambda: returncodes.append(server.stop()))
    assert returncodes == [0]
    events: list[dict[str, Any]] = [json.loads(line) for line in written.splitlines()]
    final = [e for e in events if e["type"] == "server.stats"][-1]
    exchanges = [e for e in events if e["type"] == "exchange"]
    total = CONNECTIONS * REQUESTS + 1
    assert final["exchanges"] == total
    # Capture was behind: most exchanges were dropped, each one counted.
    assert final["dropped"] > total // 2
    traffic = [e for e in events if e["type"] in ("connection.open", "exchange",
                                                  "connection.close")]
    assert len(traffic) + final["dropped"] == total + 2 * (CONNECTIONS + 1)
    assert {e["number"] for e in exchanges} <= set(range(1, total + 1))
    # What the server held for capture meanwhile: its queue's bytes (about 25 MiB of
    # exchanges here: the bound counts them as base64), not twice that, plus the
    # connections' buffers and the allocator's slack (measured: 25 to 37 MiB in all).
    assert grew <= EVENT_QUEUE + 16 * 1024 * 1024, f"grew {grew / 2**20:.0f} MiB"
