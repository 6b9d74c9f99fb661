"""Uploads under pressure (issue 11, points 4 and 7), against real daphne processes.

* Concurrent uploads cannot together exceed the per-sandbox or the per-owner disk quota:
  threads against one daphne on SQLite, and against two daphne processes sharing a real
  PostgreSQL. (Before: each upload measured the sandbox before any had committed, and
  two or three 18 MB uploads all landed in a 20 MB sandbox.)
* A full disk (a real tmpfs, filled) answers 507 with a sentence in the request's
  language, leaves what was stored intact and no temporary file behind, and uploads
  work again once space is back. (Before: a generic 500.)
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from testkit import services
from testkit.playgrounds import Browser, Daphne, migrate, playground_env
from testkit.uploads import race, snapshot, upload

MB = 1024 * 1024
# The defaults: 5 MB per file, 20 MB per sandbox. One upload of four 4.5 MB files fits
# alone (18 MB); any two together do not.
FILE = int(4.5 * MB)
FILES_PER_UPLOAD = 4


def usage(root: Path) -> int:
    return sum(len(data) for data in snapshot(root).values())


def new_sandbox(browser: Browser, site: Daphne, name: str, port: int) -> int:
    status, created = browser.call(site, "POST", "/api/sandboxes/", {"name": name,
                                                                    "port": port})
    assert status == 201, created
    return created["id"]


def batch(tag: str) -> list[tuple[str, str, bytes]]:
    """One zip of four 4.5 MB files. Small on the wire, so parallel requests reach the
    views together, and slow to unpack: the widest window between measuring the sandbox
    and moving the files into place, where the quota used to be lost."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for k in range(FILES_PER_UPLOAD):
            archive.writestr(f"{tag}-{k}.txt", f"{tag}{k}".encode() * (FILE // 2))
    return [("archive", f"{tag}.zip", buffer.getvalue())]


@pytest.fixture
def sites():
    started: list[Daphne] = []
    yield started
    for site in started:
        site.close()


@pytest.fixture
def one_sandbox(tmp_path, free_ports, sites):
    """one_sandbox(**settings): a migrated daphne with those settings, a browser, and
    the id of a new sandbox of that browser's."""
    def make(**settings: str) -> tuple[Daphne, Browser, int]:
        env = playground_env(tmp_path, PLAYGROUND_PORT_RANGE="1024-65535", **settings)
        migrate(env)
        daphne_port, sandbox_port = free_ports(2)
        site = Daphne("one", env, tmp_path, daphne_port)
        sites.append(site)
        browser = Browser()
        return site, browser, new_sandbox(browser, site, "mine", sandbox_port)
    return make


def test_parallel_uploads_cannot_overfill_a_sandbox(tmp_path, one_sandbox):
    site, browser, sandbox = one_sandbox()
    uploads = [lambda tag=tag: upload(browser, site, sandbox, batch(tag))
               for tag in "abcd"]
    results = race(uploads)
    statuses = sorted(status for status, _body in results)
    assert statuses == [201, 413, 413, 413], results
    root = tmp_path / "data" / "sandboxes" / str(sandbox)
    assert usage(root) == FILES_PER_UPLOAD * FILE <= 20 * MB
    assert not [name for name in os.listdir(root) if name.startswith(".")]  # no temp left


def test_the_quotas_hold_across_two_processes_on_postgresql(tmp_path, free_ports, sites,
                                                            postgres_url):
    # Per owner: 30 MB over two sandboxes. Two uploads to each sandbox, sent to two
    # daphne processes at once: one per sandbox would fit the sandbox, not the owner.
    env = playground_env(tmp_path, DATABASE_URL=postgres_url,
                         PLAYGROUND_PORT_RANGE="1024-65535",
                         PLAYGROUND_MAX_OWNER_BYTES=str(30 * MB))
    migrate(env)
    port_a, port_b, sandbox_1, sandbox_2 = free_ports(4)
    site_a = Daphne("a", env, tmp_path, port_a)
    sites.append(site_a)
    site_b = Daphne("b", env, tmp_path, port_b)
    sites.append(site_b)
    browser = Browser()
    first = new_sandbox(browser, site_a, "first", sandbox_1)
    second = new_sandbox(browser, site_a, "second", sandbox_2)
    plan = [(site_a, first, "a"), (site_b, first, "b"), (site_a, second, "c"),
            (site_b, second, "d")]
    results = race([lambda s=s, sb=sb, tag=tag: upload(browser, s, sb, batch(tag))
                    for s, sb, tag in plan])
    statuses = sorted(status for status, _body in results)
    assert statuses == [201, 413, 413, 413], results
    data = tmp_path / "data" / "sandboxes"
    assert usage(data) == FILES_PER_UPLOAD * FILE <= 30 * MB


@pytest.fixture
def small_disk(tmp_path):
    """A real 8 MB file system (tmpfs) for the data folder."""
    with services.small_disk(tmp_path / "disk") as mount:
        yield mount


def test_a_full_disk_is_a_clear_507_and_recovers(small_disk, one_sandbox):
    site, browser, sandbox = one_sandbox(PLAYGROUND_DATA_DIR=str(small_disk))
    kept = [("files", "index.html", b"<h1>kept</h1>" * 100)]
    assert upload(browser, site, sandbox, kept)[0] == 201
    root = small_disk / "sandboxes" / str(sandbox)
    before = snapshot(root)

    # Fill the disk, as another program would, leaving less than the next upload needs.
    filler = services.fill(small_disk, leave=256 * 1024)
    new = [("files", "index.html", b"<h1>new</h1>" * 100_000),
           ("files", "photo.bin", os.urandom(MB))]
    for language, words in (("en", "disk is full"), ("ja", "ディスク")):
        status, answer = upload(browser, site, sandbox, new, language=language)
        assert status == 507, answer
        assert words in answer["error"], answer
    status, answer = upload(browser, site, sandbox, b"x" * MB, method="PUT",
                            path="big.txt")
    assert status == 507, answer
    # Nothing stored was touched, no temporary file is left.
    assert snapshot(root) == before
    assert sorted(os.listdir(root)) == ["index.html"]

    filler.unlink()  # space is back
    status, answer = upload(browser, site, sandbox, new)
    assert status == 201, answer
    assert snapshot(root)["photo.bin"] == new[1][2]
