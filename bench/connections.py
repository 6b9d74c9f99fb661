"""1,000 keep-alive connections held open against henaserver while it keeps serving.

Opens N connections one by one, each does one keep-alive GET and stays open; samples
the server's RSS (VmRSS) before, at every quarter and during two identical wrk loads
over 10 other connections; then asks every held connection for one more response.
Memory is "flat" if the second load does not grow RSS beyond the first's peak.

Run alone:  .venv/bin/python bench/connections.py [--connections 1000] [--no-capture]
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import docroot
import servers
import wrk

# Whole-phase deadlines: every loop below is bounded in count and in time.
OPEN_DEADLINE = 120.0      # opening all N connections
RECHECK_DEADLINE = 60.0    # second request on every held connection
SOCKET_TIMEOUT = 10.0      # one blocking read on one socket
# Idle timeout asked of henaserver for this test: longer than opening N connections,
# the wrk run and the recheck together, so idle closes cannot hide or fake a result.
HOLD_IDLE_TIMEOUT = 120.0
# Largest response head we accept; index.html's whole response is a few hundred bytes.
MAX_HEAD = 64 * 1024
# "Flat": the first load may grow RSS once (buffers, the file cache, a backlog in the
# bounded event queue); the second, identical load must not grow it by more than this.
# Growth on every load would be a leak; growth once is a plateau.
FLAT_TOLERANCE_KIB = 1024
# Two identical wrk loads while the N connections are held.
LOADS = 2

REQUEST = (f"GET {docroot.SMALL} HTTP/1.1\r\nHost: {servers.HOST}\r\n"
           "Connection: keep-alive\r\n\r\n").encode()


@dataclass
class Result:
    connections: int
    rss_before_kib: int = 0
    rss_at: dict[int, int] = field(default_factory=dict)      # open count -> KiB
    threads_at: dict[int, int] = field(default_factory=dict)  # open count -> threads
    opened_ok: int = 0            # first request answered 200
    open_failures: list[str] = field(default_factory=list)
    loads: list[wrk.WrkResult] = field(default_factory=list)  # wrk -c10 meanwhile
    load_error: str | None = None
    rss_peaks_kib: list[int] = field(default_factory=list)    # peak RSS during each load
    rss_after_kib: int = 0
    recheck_ok: int = 0           # second request on a held connection answered 200
    recheck_closed: int = 0       # the server had closed it (EOF/reset) in the meantime
    recheck_other: list[str] = field(default_factory=list)
    open_seconds: float = 0.0     # time to open and answer all N
    idle_max_s: float = 0.0       # longest a held connection sat idle before the recheck
    server_args: str = ""         # extra henaserver options used for this measurement

    @property
    def per_connection_kib(self) -> float:
        top = max(self.rss_at) if self.rss_at else 0
        return (self.rss_at.get(top, 0) - self.rss_before_kib) / top if top else 0.0

    @property
    def flat(self) -> bool:
        """RSS stopped growing: the last load and the recheck did not raise it over the
        first load's peak."""
        if len(self.rss_peaks_kib) < 2:
            return False
        top = max(self.rss_peaks_kib[-1], self.rss_after_kib)
        return top - self.rss_peaks_kib[0] <= FLAT_TOLERANCE_KIB

    @property
    def held(self) -> bool:
        """All N answered twice and wrk saw no errors while they were open."""
        return (self.opened_ok == self.connections == self.recheck_ok
                and len(self.loads) == LOADS
                and all(w.socket_errors == 0 and w.non_2xx == 0 and w.requests > 0
                        for w in self.loads))


def raise_nofile_limit() -> int:
    """Lift our soft open-files limit to the hard one; N sockets need N descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def read_response(sock: socket.socket, deadline: float) -> int:
    """Read one Content-Length-framed response; return its status code.
    Raises ConnectionError on EOF, TimeoutError past the deadline."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        if len(buf) > MAX_HEAD:
            raise ValueError("response head too large")
        sock.settimeout(max(0.001, min(SOCKET_TIMEOUT, deadline - time.monotonic())))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by server")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        sock.settimeout(max(0.001, min(SOCKET_TIMEOUT, deadline - time.monotonic())))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed mid-body")
        body += chunk
    return status


def _sample_while(pid: int, stop: threading.Event, peak: list[int]) -> None:
    while not stop.wait(0.25):
        with contextlib.suppress(OSError):
            peak[0] = max(peak[0], servers.rss_kib(pid))


def measure(server: servers.Server, n: int = 1000, wrk_seconds: int = 5) -> Result:
    """Hold n keep-alive connections to server and measure it; closes them all after."""
    raise_nofile_limit()
    res = Result(connections=n)
    checkpoints = {n * q // 4 for q in (1, 2, 3, 4)}
    held: list[socket.socket] = []
    try:
        time.sleep(0.5)  # let start-up allocation settle before the baseline
        res.rss_before_kib = servers.rss_kib(server.pid)
        started = time.monotonic()
        deadline = started + OPEN_DEADLINE
        for i in range(1, n + 1):
            if time.monotonic() > deadline:
                res.open_failures.append(f"gave up at {i - 1}: {OPEN_DEADLINE}s deadline")
                break
            try:
                sock = socket.create_connection((servers.HOST, server.port), timeout=5)
                held.append(sock)
                sock.sendall(REQUEST)
                status = read_response(sock, deadline)
                if status == 200:
                    res.opened_ok += 1
                else:
                    res.open_failures.append(f"connection {i}: status {status}")
            except (OSError, ValueError) as exc:
                res.open_failures.append(f"connection {i}: {exc!r}")
            if i in checkpoints:
                res.rss_at[i] = servers.rss_kib(server.pid)
                res.threads_at[i] = servers.thread_count(server.pid)
        res.open_seconds = time.monotonic() - started

        # Serve 10 other connections while the n sit idle; track peak RSS meanwhile.
        for _ in range(LOADS):
            stop, peak = threading.Event(), [servers.rss_kib(server.pid)]
            sampler = threading.Thread(target=_sample_while, args=(server.pid, stop, peak),
                                       daemon=True)
            sampler.start()
            try:
                res.loads.append(wrk.run(server.url(docroot.SMALL), 10, wrk_seconds))
            except (RuntimeError, ValueError) as exc:
                res.load_error = str(exc)
            finally:
                stop.set()
                sampler.join(5)
            res.rss_peaks_kib.append(max(peak[0], servers.rss_kib(server.pid)))

        # The first connection got its answer right after `started`.
        res.idle_max_s = time.monotonic() - started
        _recheck(held, res)
        res.rss_after_kib = servers.rss_kib(server.pid)
    finally:
        for sock in held:
            sock.close()
    return res


def _recheck(held: list[socket.socket], res: Result) -> None:
    """One more request on every held connection: send all first, so the server has
    n requests in flight at once, then collect the answers."""
    deadline = time.monotonic() + RECHECK_DEADLINE
    sent: list[socket.socket] = []
    for sock in held:
        try:
            sock.settimeout(SOCKET_TIMEOUT)
            sock.sendall(REQUEST)
            sent.append(sock)
        except OSError:
            res.recheck_closed += 1
    for sock in sent:
        try:
            status = read_response(sock, deadline)
        except (ConnectionError, BrokenPipeError):
            res.recheck_closed += 1
            continue
        except (OSError, ValueError) as exc:
            res.recheck_other.append(repr(exc))
            continue
        if status == 200:
            res.recheck_ok += 1
        else:
            res.recheck_other.append(f"status {status}")


def _mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


def markdown(res: Result, label: str) -> str:
    """The results block docs/benchmarks.md quotes."""
    lines = [f"### 1,000 connections ({label})", "",
             "| open keep-alive connections | server RSS | server threads |",
             "| ---: | ---: | ---: |",
             f"| 0 | {_mib(res.rss_before_kib)} | |"]
    for count in sorted(res.rss_at):
        lines.append(f"| {count} | {_mib(res.rss_at[count])} | {res.threads_at.get(count, '')} |")
    for i, rss in enumerate(res.rss_peaks_kib, 1):
        lines.append(f"| {res.connections} + wrk -c10, load {i} (peak) | {_mib(rss)} | |")
    lines.append(f"| {res.connections}, after second request on each | "
                 f"{_mib(res.rss_after_kib)} | |")
    lines.append("")
    lines.append(f"- first request answered 200 on {res.opened_ok} of {res.connections} "
                 "connections" + (f"; failures: {res.open_failures[:5]}"
                                  if res.open_failures else ""))
    for i, w in enumerate(res.loads, 1):
        lines.append(f"- load {i}, wrk -t1 -c10 -d{w.seconds:.0f}s meanwhile: "
                     f"{w.req_per_s:,.0f} req/s, {w.requests:,} requests, "
                     f"socket errors {w.socket_errors}, non-2xx {w.non_2xx}, "
                     f"p99 {w.p99_ms} ms")
    if res.load_error:
        lines.append(f"- wrk failed: {res.load_error}")
    lines.append(f"- opened in {res.open_seconds:.1f} s; held connections then sat idle for "
                 f"up to {res.idle_max_s:.1f} s"
                 + (f" (henaserver options: `{res.server_args}`)" if res.server_args else ""))
    lines.append(f"- second request on every held connection: {res.recheck_ok} answered 200, "
                 f"{res.recheck_closed} closed by the server"
                 + (f", other: {res.recheck_other[:5]}" if res.recheck_other else ""))
    lines.append(f"- RSS growth: {res.per_connection_kib:.1f} KiB per open connection; "
                 f"held: **{'PASS' if res.held else 'MISS'}**, "
                 f"memory flat under load: **{'PASS' if res.flat else 'MISS'}** "
                 f"(load {LOADS} and the recheck stay within "
                 f"{FLAT_TOLERANCE_KIB // 1024} MiB of load 1's peak)")
    return "\n".join(lines)


def hold_server_args(keep_default_idle_timeout: bool) -> tuple[str, ...]:
    """henaserver closes idle keep-alive connections after a few seconds (by design,
    RFC 9112 section 9.5), which is shorter than this measurement takes. To measure
    holding rather than the idle timer, raise it when this henaserver has the option."""
    if keep_default_idle_timeout or "--idle-timeout" not in servers.henaserver_help():
        return ()
    return ("--idle-timeout", str(int(HOLD_IDLE_TIMEOUT)))


def measure_fresh(n: int, wrk_seconds: int, capture: bool = True,
                  keep_default_idle_timeout: bool = False) -> Result:
    """Start a fresh henaserver over a fresh docroot (a clean RSS baseline) and measure."""
    extra = hold_server_args(keep_default_idle_timeout)
    with tempfile.TemporaryDirectory(prefix="henabench-") as tmp:
        root = docroot.build(Path(tmp) / "root")
        events = Path(tmp) / "events.jsonl" if capture else None
        name = f"henaserver, capture {'on' if capture else 'off'}"
        with servers.henaserver(root, events, name, extra) as server:
            res = measure(server, n, wrk_seconds)
    res.server_args = " ".join(extra)
    return res


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=5, help="duration of the wrk run")
    parser.add_argument("--no-capture", action="store_true",
                        help="run henaserver without --events (capture off)")
    parser.add_argument("--default-idle-timeout", action="store_true",
                        help="keep henaserver's own idle timeout (it may close the "
                        "held connections before the second request)")
    args = parser.parse_args()
    raise_nofile_limit()
    res = measure_fresh(args.connections, args.seconds, not args.no_capture,
                        args.default_idle_timeout)
    print(markdown(res, "capture off" if args.no_capture else "capture on"))
    return 0 if res.held and res.flat else 1


if __name__ == "__main__":
    sys.exit(main())
