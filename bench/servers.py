"""Start and stop the servers under test, each on a free loopback port.

Every starter is a context manager that yields a `Server` and always stops the
process on exit (Ctrl+C included), so a failed benchmark leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import reference

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"

# How long a server may take to print its address or accept a connection.
# Python servers start in well under a second; this only bounds a broken start.
START_TIMEOUT = 15.0
# Grace period between SIGTERM and SIGKILL when stopping.
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Server:
    name: str
    port: int
    pid: int

    def url(self, path: str = "/") -> str:
        return f"http://{HOST}:{self.port}{path}"


def free_port() -> int:
    """A port the OS just handed out. Racy, but only nginx needs it (its config
    wants a number); the Python servers bind port 0 and report the real port."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT)


def _read_lines(proc: subprocess.Popen[bytes], lines: queue.Queue[str]) -> None:
    # A daemon thread drains stdout for the whole life of the process: a server
    # that logs while nobody reads would block on a full pipe mid-benchmark.
    assert proc.stdout is not None
    for raw in proc.stdout:
        lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
    lines.put("")  # EOF marker


def _wait_for_url(proc: subprocess.Popen[bytes], name: str) -> tuple[int, list[str]]:
    """Read stdout until a line contains http://HOST:PORT/; return the port."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_read_lines, args=(proc, lines), daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line == "" and proc.poll() is not None:
            break
        seen.append(line)
        marker = f"http://{HOST}:"
        if marker in line:
            rest = line.split(marker, 1)[1]
            digits = rest.split("/", 1)[0]
            if digits.isdigit():
                return int(digits), seen
    raise RuntimeError(
        f"{name} did not report its address within {START_TIMEOUT}s "
        f"(exit code {proc.poll()}); output:\n" + "\n".join(seen[-30:])
    )


def _wait_for_accept(port: int, proc: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with code {proc.returncode} while starting")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not accept connections on port {port}")


@contextlib.contextmanager
def henaserver(root: Path, events: Path | None, name: str,
               extra: tuple[str, ...] = ()) -> Iterator[Server]:
    """`python -m henaserver` with capture on (events to a file) or off."""
    args = [sys.executable, "-u", "-m", "henaserver", "--root", str(root),
            "--host", HOST, "--port", "0", "--quiet", *extra]
    if events is not None:
        args += ["--events", str(events)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=env, cwd=REPO)
    with _reporting(proc, name) as server:
        yield server


@contextlib.contextmanager
def _reporting(proc: subprocess.Popen[bytes], name: str) -> Iterator[Server]:
    """A started server that prints http://HOST:PORT/ once it listens: wait for that,
    then for it to accept; stop it however the benchmark ends."""
    try:
        port, _ = _wait_for_url(proc, name)
        _wait_for_accept(port, proc, name)
        yield Server(name, port, proc.pid)
    finally:
        _stop(proc)


def henaserver_help() -> str:
    """`python -m henaserver --help`, to see which options this version has."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "henaserver", "--help"], capture_output=True,
                          text=True, timeout=30, env=env, cwd=REPO, check=False)
    return proc.stdout + proc.stderr


@contextlib.contextmanager
def http_server(root: Path) -> Iterator[Server]:
    """Plain `python -m http.server`, as the issue names it: HTTP/1.0, so it closes
    the connection after every response and wrk reconnects each time."""
    args = [sys.executable, "-u", "-m", "http.server", "--bind", HOST,
            "--directory", str(root), "0"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    with _reporting(proc, "http.server") as server:
        yield server


NGINX_CONF = """\
# Generated by bench/servers.py: one worker, like-for-like with a single
# Python process; every path lives in the temp prefix so no root paths are needed.
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    # The default (1000) would make wrk reconnect every 1000 requests;
    # henaserver has no such cap, so lift it to compare keep-alive to keep-alive.
    keepalive_requests 1000000;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    types {{ text/html html; application/octet-stream bin; }}
    server {{
        listen {host}:{port};
        root {root};
    }}
}}
"""


@contextlib.contextmanager
def nginx(root: Path, prefix: Path) -> Iterator[Server]:
    """nginx with one worker process serving the same docroot."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, host=HOST, port=port, root=root))
    # -e: nginx opens its default error log before reading the config; keep it here.
    args = [binary, "-c", str(conf), "-p", str(prefix), "-e", str(prefix / "error.log")]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    try:
        try:
            _wait_for_accept(port, proc, "nginx")
        except RuntimeError as exc:
            err = proc.stderr.read().decode() if proc.poll() is not None and proc.stderr else ""
            raise RuntimeError(f"{exc}\n{err}") from None
        yield Server("nginx", port, proc.pid)
    finally:
        _stop(proc)


@contextlib.contextmanager
def uvicorn_app(root: Path, name: str) -> Iterator[Server]:
    """bench/uvicorn_app.py (uvicorn + httptools, bench/.venv-ref) serving ``root``."""
    bench = Path(__file__).resolve().parent
    proc = subprocess.Popen([str(reference.python()), str(bench / "uvicorn_app.py"), str(root)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    with _reporting(proc, name) as server:
        yield server


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) a process has used, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    """Resident set size of one process, from /proc/PID/status (VmRSS, in KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def thread_count(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0
