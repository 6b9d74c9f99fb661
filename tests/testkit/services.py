"""Real services for tests: a redis-server and a throwaway PostgreSQL cluster.

``.ci/run`` starts one of each and exports their URLs (``PLAYGROUND_TEST_REDIS_URL``,
``PLAYGROUND_TEST_POSTGRES_URL``); a test run without them starts its own here. A service
that cannot run skips the test with the reason, except under ``CI=true``, where it fails:
a green CI run means every test that names a service really ran against it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .waiting import wait_until

POSTGRES_BIN_DIRS = ("/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin",
                     "/usr/lib/postgresql/15/bin", "/usr/local/bin", "/usr/bin")


def unavailable(what: str, reason: str) -> None:
    """Skip (on a developer's machine) or fail (on CI) a test that needs ``what``."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is needed on CI: {reason}", pytrace=False)
    pytest.skip(f"{what}: {reason}")


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(100).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def redis_server(directory: Path, port: int) -> Iterator[str]:
    """A redis-server of its own on ``port`` (no persistence); yields its URL."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(binary):
        unavailable("redis-server", "not installed (apt-get install redis-server)")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(directory)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"redis-server exited with {proc.returncode}")
            return _answers_ping(port)

        wait_until(up, 10, "redis-server answering PING", interval=0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


_next_redis_db = 0


def empty_redis_database(server_url: str) -> str:
    """The URL of the next of the server's 16 databases, emptied (FLUSHDB)."""
    global _next_redis_db
    _next_redis_db = (_next_redis_db + 1) % 16
    base = server_url.rsplit("/", 1)[0]
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"SELECT {_next_redis_db}\r\nFLUSHDB\r\n".encode())
        reply = b""
        while reply.count(b"\r\n") < 2:
            chunk = sock.recv(100)
            assert chunk, "redis-server closed the connection"
            reply += chunk
        assert reply == b"+OK\r\n+OK\r\n", reply
    return f"{base}/{_next_redis_db}"


def _postgres_bin(name: str) -> str | None:
    for folder in POSTGRES_BIN_DIRS:
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return path
    return shutil.which(name)


def _as_postgres(argv: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the postgres user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout}{done.stderr}")


@contextlib.contextmanager
def postgres_cluster(port: int) -> Iterator[str]:
    """A throwaway PostgreSQL cluster (initdb, trust auth, 127.0.0.1:``port`` only);
    yields a URL of its ``postgres`` database. Stopped and removed afterwards.

    Its folder is a new one under /tmp, owned by the postgres user when we are root
    (the server refuses to run as root, and must reach its folder)."""
    initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        unavailable("PostgreSQL", "initdb/pg_ctl not found (apt-get install postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.fail("psycopg is not installed: pip install -e '.[test]'", pytrace=False)
    directory = Path(tempfile.mkdtemp(prefix="playground-postgres-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
    data, log = directory / "data", directory / "postgres.log"
    try:
        _run(_as_postgres([initdb, "-D", str(data), "-A", "trust", "-U", "postgres",
                           "--no-sync", "-E", "UTF8"]))
        _run(_as_postgres([pg_ctl, "-D", str(data), "-l", str(log), "-w", "-o",
                           f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 "
                           "-c fsync=off -c max_connections=300", "start"]))
        yield f"postgres://postgres@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "stop", "-m", "immediate"]),
                           capture_output=True, timeout=60)
        shutil.rmtree(directory, ignore_errors=True)


def postgres_pid(url_port: int) -> int | None:
    """The postmaster's pid of a cluster made by ``postgres_cluster`` on that port."""
    for pid_file in Path(tempfile.gettempdir()).glob("playground-postgres-*/data/postmaster.pid"):
        lines = pid_file.read_text().split("\n")
        if len(lines) > 3 and lines[3].strip() == str(url_port):
            return int(lines[0])
    return None


def fresh_database(server_url: str) -> str:
    """A new, empty database on the cluster at ``server_url``; returns its URL."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server_url.replace("postgres://", "postgresql://", 1),
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    import psycopg

    server, name = url.rsplit("/", 1)
    # WITH (FORCE): a playground process the test killed may still hold a connection.
    with psycopg.connect((server + "/postgres").replace("postgres://", "postgresql://", 1),
                         autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def small_disk(mount: Path, size: str = "8m") -> Iterator[Path]:
    """A real file system of ``size`` (a tmpfs) mounted at ``mount``, to fill up: what a
    full disk does cannot be faked. Needs root (CAP_SYS_ADMIN): skipped without it,
    failed under CI=true."""
    mount.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        unavailable("a tmpfs to fill", f"mount failed: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(folder: Path, leave: int = 0) -> Path:
    """Fill the file system of ``folder`` with one file, leaving about ``leave`` bytes
    free (delete the file to give the space back)."""
    filler = folder / "filler"
    # Unbuffered: a buffered file keeps what the last write could not place and
    # raises ENOSPC again when it is closed (a CI run failed so).
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
    if leave:
        os.truncate(filler, max(0, os.path.getsize(filler) - leave))
    return filler
