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
import threading
import zipfile

from testkit.playgrounds import Browser, Daphne, migrate, playground_env
from testkit.uploads import race, snapshot, upload

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
