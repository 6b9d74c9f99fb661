"""Whole playground processes for tests: daphne (as docs/deploy.md runs it) with its own
environment, database and data folder, and a browser-like HTTP client with a cookie jar.

Used where a test needs what only separate processes show: two daphne processes sharing
a database (scale-out, races between processes), a process that is killed.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import itertools
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .waiting import wait_until

REPO = Path(__file__).resolve().parents[2]


_uid_bases = itertools.count()


def own_uid_base() -> str:
    """A PLAYGROUND_PROGRAM_UID_BASE no other playground of this machine uses: program
    sandboxes run as the base + their pk, and a start ends whatever runs as its uid, so
    two test playgrounds (each counting pks from 1) must never share a base."""
    return str(100_000_000 + os.getpid() % 2000 * 1_000_000 + next(_uid_bases) * 10_000)


def playground_env(tmp: Path, **settings: str) -> dict[str, str]:
    """An environment for a playground process: ours without PLAYGROUND_*/DJANGO_*/
    REDIS_URL/DATABASE_URL, a file database and data folder under ``tmp``, a fresh
    secret key; ``settings`` (e.g. REDIS_URL=..., DATABASE_URL=...) added last."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PLAYGROUND_", "DJANGO_")) and k not in ("REDIS_URL",
                                                                        "DATABASE_URL")}
    env.update(DJANGO_SETTINGS_MODULE="playground.settings", PYTHONPATH=str(REPO),
               PYTHONUNBUFFERED="1", DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
               PLAYGROUND_DB=str(tmp / "db.sqlite3"), PLAYGROUND_DATA_DIR=str(tmp / "data"),
               PLAYGROUND_PROGRAM_UID_BASE=own_uid_base())
    env.update(settings)
    return env


def migrate(env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def one_port_env(tmp: Path, sandbox_port: int, **settings: str) -> dict[str, str]:
    """``playground_env`` migrated, with ``sandbox_port`` the only port a sandbox can get,
    so every playground process the test starts serves the same sandbox there."""
    env = playground_env(tmp, PLAYGROUND_PORT_RANGE=f"{sandbox_port}-{sandbox_port}",
                         **settings)
    migrate(env)
    return env


def log_text(log: Path | None) -> str:
    return log.read_text(errors="replace") if log and log.exists() else ""


def answering(check: Any, proc: subprocess.Popen, what: str, log: Path | None = None) -> Any:
    """``check`` as a wait_until condition for a server process: a refused connection
    (OSError) means "not yet", and the process having exited fails at once."""
    def condition() -> Any:
        if proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited:\n{log_text(log)}")
        try:
            return check()
        except OSError:
            return None
    return condition


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket (``daphne -u``); the URL's host is only the Host header."""

    def __init__(self, path: str, *args: Any, **kwargs: Any) -> None:
        super().__init__("127.0.0.1", *args, **kwargs)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class UnixHandler(urllib.request.HTTPHandler):
    """urllib's http:// over one Unix socket."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = str(path)

    def http_open(self, req: Any) -> Any:
        return self.do_open(lambda host, **kw: UnixHTTPConnection(self.path, **kw), req)


class Daphne:
    """One playground process: `python -m daphne` on its own port, in its own session
    (so ``close()`` ends it and nothing else)."""

    def __init__(self, name: str, env: dict[str, str], tmp: Path, port: int,
                 prefix: Sequence[str] = (), unix: Path | None = None):
        """``prefix``: a command that runs the rest (e.g. in a namespace), and execs it.
        ``unix``: listen on this Unix socket instead of the port (``daphne -u``, as
        behind a proxy on the same host); reach it with ``Browser(unix=...)``."""
        self.name = name
        self.port = port
        self.unix = unix
        self.base = f"http://127.0.0.1:{self.port}" if unix is None else "http://127.0.0.1"
        self.log = tmp / f"daphne-{name}.log"
        listen = ["-u", str(unix)] if unix is not None else ["-b", "127.0.0.1", "-p",
                                                              str(self.port)]
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "daphne", *listen,
             "playground.asgi:application"], cwd=REPO, env=env,
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
        opener = urllib.request.build_opener(*([UnixHandler(unix)] if unix else []))

        def up() -> bool:
            return opener.open(self.base + "/", timeout=2).status == 200

        what = f"daphne {name} answering"
        wait_until(answering(up, self.proc, what, self.log), 30, what, interval=0.1,
                   explain=lambda: log_text(self.log))

    def output(self) -> str:
        return log_text(self.log)

    def kill(self) -> None:
        """kill -9, as a crash would: no atexit, no clean-up."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@contextmanager
def two_daphnes(env: dict[str, str], tmp: Path, port_a: int, port_b: int,
                prefix: Sequence[str] = ()) -> Iterator[tuple[Daphne, Daphne]]:
    """Playground processes A and B on ``env``'s database, both ended at the end (A
    too when B fails to start); ``prefix`` as for ``Daphne``."""
    sites: list[Daphne] = []
    try:
        sites.append(Daphne("A", env, tmp, port_a, prefix))
        sites.append(Daphne("B", env, tmp, port_b, prefix))
        yield sites[0], sites[1]
    finally:
        for site in sites:
            site.close()


class Browser:
    """One browser: one cookie jar, used against any playground process (same host
    name, and cookies ignore ports; processes share SECRET_KEY and the session table)."""

    def __init__(self, unix: Path | None = None) -> None:
        """``unix``: every request over this Unix socket (a ``Daphne(unix=...)``)."""
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            *([UnixHandler(unix)] if unix else []), urllib.request.HTTPCookieProcessor(self.jar))

    def cookie(self, name: str) -> str:
        return next(c.value for c in self.jar if c.name == name)

    def call(self, site: Daphne, method: str, path: str, data: Any = None,
             timeout: float = 30) -> tuple[int, Any]:
        """One JSON API call; returns (status, decoded JSON body)."""
        if not any(c.name == "csrftoken" for c in self.jar):
            self.opener.open(site.base + "/", timeout=10).read()
        body = json.dumps(data).encode() if data is not None else None
        request = urllib.request.Request(site.base + path, data=body, method=method, headers={
            "X-CSRFToken": self.cookie("csrftoken"), "Content-Type": "application/json"})
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return err.code, json.loads(raw or b"null")
            except ValueError:
                return err.code, raw.decode(errors="replace")

    def new_sandbox(self, site: Daphne, name: str, port: int) -> dict[str, Any]:
        """Create a sandbox on ``port`` through the API; its JSON."""
        status, sandbox = self.call(site, "POST", "/api/sandboxes/",
                                    {"name": name, "port": port})
        assert status == 201, sandbox
        return sandbox
