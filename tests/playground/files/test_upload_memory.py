"""Uploads stream to disk (issue 12, item 11), against a real daphne process.

Six 20 MB uploads at once (two multipart forms, two PUTs, two zips) must not raise the
playground's RSS by anything like the bytes they carry: before, daphne copied every
body into memory (and Twisted parsed each multipart POST in memory once more), about
30 MB per upload, most of it kept after the sandboxes were gone. The bound below is a
generous memory bound (a third of the bodies' total), not a speed: bench/upload_memory.py
measures the real figure (well under 1 MB per upload).
"""

from __future__ import annotations

import io
import os
import socket
import threading
import zipfile

from testkit.playgrounds import Browser, Daphne, migrate, playground_env
from testkit.uploads import race, snapshot, upload
from testkit.waiting import wait_until

MB = 1_000_000
MIB = 1024 * 1024
SIZE = 20 * MB
PER_KIND = 2


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def test_parallel_20_mb_uploads_do_not_grow_the_playground_by_their_size(
        tmp_path, free_ports):
    limit = str(24 * MIB)
    kinds = ("multipart", "put", "zip")
    env = playground_env(tmp_path, PLAYGROUND_PORT_RANGE="1024-65535",
                         PLAYGROUND_MAX_FILE_BYTES=limit, PLAYGROUND_MAX_SANDBOX_BYTES=limit,
                         PLAYGROUND_MAX_OWNER_BYTES=str(10 * 24 * MIB),
                         PLAYGROUND_MAX_SANDBOXES_PER_OWNER="10")
    migrate(env)
    daphne_port, *ports = free_ports(1 + PER_KIND * len(kinds))
    site = Daphne("memory", env, tmp_path, daphne_port)
    try:
        browser = Browser()
        sandboxes = [browser.new_sandbox(site, f"s{k}", port)["id"]
                     for k, port in enumerate(ports)]
        data = os.urandom(SIZE)  # random: nothing compresses
        quarters = [(f"part{k}.bin", data[k * SIZE // 4:(k + 1) * SIZE // 4])
                    for k in range(4)]
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zipped:
            for name, part in quarters:
                zipped.writestr(name, part)

        def send(kind: str, sandbox: int):
            if kind == "put":
                return lambda: upload(browser, site, sandbox, data, method="PUT",
                                      path="big.bin")
            parts = ([("archive", "site.zip", archive.getvalue())] if kind == "zip"
                     else [("files", name, part) for name, part in quarters])
            return lambda: upload(browser, site, sandbox, parts)

        plan = [(kind, sandboxes[i * PER_KIND + k]) for i, kind in enumerate(kinds)
                for k in range(PER_KIND)]
        # One small upload first: code paths, caches and the thread pool are warm.
        assert upload(browser, site, sandboxes[0], b"warm", method="PUT",
                      path="warm.txt")[0] == 201
        before = rss_kib(site.proc.pid)
        peak = before
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(0.01):
                peak = max(peak, rss_kib(site.proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            results = race([send(kind, sandbox) for kind, sandbox in plan])
        finally:
            done.set()
            sampler.join()
        assert [status for status, _body in results] == [201] * len(plan), results
        for kind, sandbox in plan:  # every byte arrived
            stored = snapshot(tmp_path / "data" / "sandboxes" / str(sandbox))
            stored.pop("warm.txt", None)
            assert sum(map(len, stored.values())) == SIZE, kind

        sent = len(plan) * SIZE
        growth = (peak - before) * 1024
        assert growth < sent / 3, (
            f"RSS grew by {growth / MB:.0f} MB for {sent / MB:.0f} MB of uploads")
    finally:
        site.close()


def _deleted_files(pid: int) -> int:
    """Open files of the process that have no name any more (Twisted's temporary body
    files are made so)."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}").endswith("(deleted)")
        except OSError:
            pass
    return count


def test_a_chunked_body_past_the_limit_is_refused_as_it_arrives(tmp_path, free_ports):
    """A chunked body declares no length. Before, daphne spooled all of it to disk
    (200 MiB with a 2 MB limit) before the middleware answered 413; now the daphne hook
    counts it as it arrives, answers 413, closes the connection and drops the file."""
    env = playground_env(tmp_path, PLAYGROUND_PORT_RANGE="1024-65535",
                         PLAYGROUND_MAX_SANDBOX_BYTES=str(256 * 1024))  # request: 1.25 MiB
    migrate(env)
    daphne_port, port = free_ports(2)
    site = Daphne("chunked", env, tmp_path, daphne_port)
    try:
        browser = Browser()
        sandbox = browser.new_sandbox(site, "s", port)
        files_before = _deleted_files(site.proc.pid)
        total = 64 * MIB
        sock = socket.create_connection(("127.0.0.1", site.port), timeout=30)
        csrf = browser.cookie("csrftoken")
        sock.sendall((
            f"PUT {sandbox['links']['files']}big.bin HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{site.port}\r\nTransfer-Encoding: chunked\r\n"
            f"Cookie: sessionid={browser.cookie('sessionid')}; csrftoken={csrf}\r\n"
            f"X-CSRFToken: {csrf}\r\nContent-Type: application/octet-stream\r\n\r\n"
        ).encode())
        reply = bytearray()
        answered = threading.Event()

        def read() -> None:
            try:
                while data := sock.recv(65536):
                    reply.extend(data)
            except OSError:
                pass
            answered.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        piece = os.urandom(64 * 1024)
        chunk = b"%x\r\n" % len(piece) + piece + b"\r\n"
        sent = 0
        try:
            while sent < total and not answered.is_set():
                sock.sendall(chunk)
                sent += len(piece)
            sock.sendall(b"0\r\n\r\n")
        except OSError:  # the server closed the connection: it stopped reading
            pass
        reader.join(30)
        sock.close()
        assert bytes(reply).startswith(b"HTTP/1.1 413"), bytes(reply[:200])
        assert b"too large" in reply
        # Stopped early: what the client got to send is the limit plus socket buffers.
        assert sent < total // 4, f"{sent / MIB:.1f} MiB of {total / MIB:.0f} were taken"
        wait_until(lambda: _deleted_files(site.proc.pid) <= files_before, 10,
                   "the refused body's temporary file to be closed")
        assert "Traceback" not in site.output(), site.output()
        assert browser.call(site, "GET", sandbox["links"]["files"])[1]["files"] == []
    finally:
        site.close()


def test_the_daphne_guard_refuses_to_start_on_a_twisted_without_its_hooks(tmp_path):
    """The guard hooks private Twisted names: a Twisted that renamed one must stop the
    start (loudly), not silently spool bodies again. Simulated by removing the flag's
    declaration from Twisted's Request before the ASGI application is loaded."""
    import subprocess
    import sys

    from testkit.playgrounds import REPO

    code = ("from twisted.web import http; "
            "del http.Request.__annotations__['_parsePOSTFormSubmission']; "
            "import playground.asgi")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=60, env=playground_env(tmp_path))
    assert done.returncode != 0
    assert "_parsePOSTFormSubmission" in done.stderr and "pyproject.toml" in done.stderr
    fine = subprocess.run([sys.executable, "-c", "import playground.asgi"], cwd=REPO,
                          capture_output=True, text=True, timeout=60,
                          env=playground_env(tmp_path))
    assert fine.returncode == 0, fine.stderr
