"""The literal path (issue 11, point 6): a fresh clone, the install step, then
`python manage.py runserver` and nothing else, run for real.

* the embedded SQLite database is migrated at start, and the console says so;
* 日本語 works with no compile step (no .mo in a clone);
* every request is logged on the console, every 500 with its traceback;
* localhost and [::1] on the playground's port are sent to 127.0.0.1: one session;
* `kill -9` of runserver's parent leaves no worker and no sandbox behind;
* a runserver whose port is taken exits with status 1 and says why.
"""

from __future__ import annotations

import gettext
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from testkit.playgrounds import Browser, Daphne, answering, log_text, playground_env
from testkit.waiting import wait_until

from playground import startup
from playground.management.commands.compiletranslations import parse_po

REPO = Path(__file__).resolve().parents[2]


def fresh_clone(tmp: Path) -> Path:
    """The files `git clone` would give (tracked ones, plus new ones not ignored, as
    this checkout has them): no database, no data folder, no compiled .mo."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
        check=True, capture_output=True).stdout.decode().split("\0")
    clone = tmp / "clone"
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    assert not list(clone.glob("locale/*/LC_MESSAGES/*.mo"))
    return clone


class Runserver:
    """`python manage.py runserver PORT` in ``cwd``, in its own session (so closing it
    ends its whole group), its console in a file."""

    def __init__(self, cwd: Path, env: dict[str, str], port: int, log: Path,
                 wait: bool = True):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", str(port)], cwd=cwd, env=env,
            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            def up() -> bool:
                return urllib.request.urlopen(self.base + "/", timeout=5).status == 200

            wait_until(answering(up, self.proc, "runserver", log), 60, "runserver to answer",
                       interval=0.2, explain=self.output)

    def output(self) -> str:
        return log_text(self.log)

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)


@pytest.fixture
def clone_env(tmp_path):
    """A fresh clone and the environment of a person who just installed it: none of the
    PLAYGROUND_* variables (database and data folder are the defaults, in the clone),
    and the clone's code imported, not this checkout's (NOTES.md: editable installs)."""
    clone = fresh_clone(tmp_path)
    env = playground_env(tmp_path)
    for name in ("PLAYGROUND_DB", "PLAYGROUND_DATA_DIR", "DJANGO_SECRET_KEY"):
        env.pop(name)
    env["PYTHONPATH"] = str(clone)
    env["PLAYGROUND_PORT_RANGE"] = "1024-65535"  # sandboxes on the tests' free ports
    return clone, env


@pytest.fixture
def servers():
    started: list[Runserver] = []
    yield started
    for server in started:
        server.close()


def get(url: str, **headers: str) -> tuple[int, str, str]:
    """(status, final URL, body) of a GET that follows redirects, as a browser does."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.geturl(), response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.geturl(), err.read().decode()


def test_runserver_on_a_fresh_clone_migrates_translates_and_logs(clone_env, free_port,
                                                                   servers, tmp_path):
    clone, env = clone_env
    server = Runserver(clone, env, free_port, tmp_path / "runserver.log")
    servers.append(server)
    console = server.output()
    # Migrated at start, said on the console; no "run migrate" advice left behind.
    assert "applying" in console and "migrations" in console, console
    assert "unapplied migration" not in console, console
    assert (clone / "db.sqlite3").exists()

    # Japanese with no compile step: the catalogs were compiled at start.
    assert list(clone.glob("locale/ja/LC_MESSAGES/*.mo"))
    status, _url, english = get(server.base + "/", **{"Accept-Language": "en"})
    status_ja, _url, japanese = get(server.base + "/", **{"Accept-Language": "ja"})
    assert status == status_ja == 200
    assert 'lang="ja"' in japanese and "サンドボックス" in japanese
    assert "サンドボックス" not in english

    # Each request is on the console, as runserver users expect, once.
    wait_until(lambda: "HTTP GET / 200" in server.output(), 10, "the access log line",
               explain=server.output)
    assert server.output().count("HTTP GET / 200") == 3, server.output()


def test_localhost_reaches_the_same_sandboxes_as_127_0_0_1(clone_env, free_port,
                                                            free_ports, servers, tmp_path):
    clone, env = clone_env
    server = Runserver(clone, env, free_port, tmp_path / "runserver.log")
    servers.append(server)
    browser = Browser()
    sandbox_port = free_ports(1)[0]
    browser.new_sandbox(server, "mine", sandbox_port)

    # The README's and a learner's other address: redirected, path and query kept, to
    # the session that owns the sandbox.
    for alias in ("localhost", "[::1]"):
        request = urllib.request.Request(server.base + "/api/sandboxes/?suggest=1",
                                         headers={"Host": f"{alias}:{free_port}"})
        try:
            urllib.request.build_opener(NoRedirect).open(request, timeout=10)
            raise AssertionError(f"{alias}: no redirect")
        except urllib.error.HTTPError as err:
            assert err.code == 302, (alias, err.code)
            assert err.headers["Location"] == (f"http://127.0.0.1:{free_port}"
                                               "/api/sandboxes/?suggest=1")
    with browser.opener.open(f"http://localhost:{free_port}/api/sandboxes/",
                             timeout=10) as response:
        assert response.geturl().startswith(f"http://127.0.0.1:{free_port}/")
        listed = response.read().decode()
    assert '"name": "mine"' in listed

    # A POST cannot be redirected without losing its body: 421, with the address.
    request = urllib.request.Request(
        f"http://localhost:{free_port}/api/sandboxes/", data=b"{}", method="POST",
        headers={"Content-Type": "application/json", "Accept-Language": "ja"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 421
    body = refused.value.read().decode()
    assert f"http://127.0.0.1:{free_port}/" in body and "\\u" in body  # Japanese, escaped


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc), so they can be found after the parent
    is gone and they are reparented."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for its new parent to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_kill_9_of_runserver_leaves_no_worker_or_sandbox(tmp_path, free_port, free_ports,
                                                         servers):
    # A database never migrated: runserver does it.
    env = playground_env(tmp_path, PLAYGROUND_PORT_RANGE="1024-65535")
    server = Runserver(REPO, env, free_port, tmp_path / "runserver.log")
    servers.append(server)
    browser = Browser()
    for port in free_ports(2):
        created = browser.new_sandbox(server, f"s{port}", port)
        status, started = browser.call(server, "POST", created["links"]["start"])
        assert started.get("status") == "running", started
    below = _descendants(server.proc.pid)
    assert len(below) >= 3, below  # the worker and its two sandboxes

    os.kill(server.proc.pid, signal.SIGKILL)  # what closing `make run`'s terminal can do
    server.proc.wait(10)
    wait_until(lambda: not any(_alive(pid) for pid in below), 15,
               "the worker and its sandboxes to end",
               explain=lambda: f"still running: {[p for p in below if _alive(p)]}")

    # The port is free again: a new runserver takes it and serves.
    again = Runserver(REPO, env, free_port, tmp_path / "again.log")
    servers.append(again)


def test_a_runserver_whose_port_is_taken_exits_and_says_so(tmp_path, free_port, servers):
    env = playground_env(tmp_path)
    servers.append(Runserver(REPO, env, free_port, tmp_path / "first.log"))
    second = Runserver(REPO, env, free_port, tmp_path / "second.log", wait=False)
    servers.append(second)
    try:
        code = second.proc.wait(60)
    except subprocess.TimeoutExpired:
        raise AssertionError("a runserver on a taken port stayed alive:\n"
                             + second.output()) from None
    assert code == 1, second.output()
    assert f"port {free_port}" in second.output(), second.output()


def test_every_500_prints_its_traceback_on_the_console(tmp_path, free_port, servers):
    env = playground_env(tmp_path)
    server = Runserver(REPO, env, free_port, tmp_path / "runserver.log")
    servers.append(server)
    # A real fault: the sandboxes' table is gone, so the home page (Django's own 500
    # path, django.request) and the API (errors.api) both fail.
    browser = Browser()
    assert browser.call(server, "GET", "/api/sandboxes/?suggest=1")[0] == 200
    with sqlite3.connect(env["PLAYGROUND_DB"]) as db:
        db.execute("DROP TABLE playground_sandbox")
    assert get(server.base + "/")[0] == 500
    status, answer = browser.call(server, "GET", "/api/sandboxes/?suggest=1")
    assert status == 500, answer

    def both_logged() -> bool:
        return server.output().count("no such table: playground_sandbox") >= 2

    wait_until(both_logged, 10, "both tracebacks on the console", explain=server.output)
    console = server.output()
    # Each 500 once: one traceback ending in the error, one access line.
    assert console.count("django.db.utils.OperationalError: no such table") == 2, console
    assert console.count("HTTP GET / 500") == 1, console
    assert "Internal Server Error: /" in console
    assert "HTTP GET / 500" in console and "HTTP GET /api/sandboxes/?suggest=1 500" in console


def test_two_processes_starting_together_migrate_one_database(tmp_path, free_ports):
    """Two daphne processes on one never-migrated SQLite file, started at the same
    moment: one migrates, the other waits for it, then finds nothing to do; both serve."""
    env = playground_env(tmp_path)
    ports = free_ports(2)
    sites: dict[str, Daphne] = {}
    failures: list[BaseException] = []

    def start(name: str, port: int) -> None:
        try:
            sites[name] = Daphne(name, env, tmp_path, port)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=start, args=(f"p{i}", port))
               for i, port in enumerate(ports)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
        assert not failures, failures
        said = [site.output().count("Database ready.") for site in sites.values()]
        assert sorted(said) == [0, 1], [site.output() for site in sites.values()]
        for site in sites.values():
            assert get(site.base + "/")[0] == 200
    finally:
        for site in sites.values():
            site.close()


def test_a_catalog_is_compiled_when_missing_or_older_than_its_po(settings, tmp_path):
    folder = tmp_path / "locale" / "ja" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po = folder / "django.po"
    shutil.copy2(REPO / "locale" / "ja" / "LC_MESSAGES" / "django.po", po)
    settings.LOCALE_PATHS = [tmp_path / "locale"]

    assert startup.compile_stale_translations() == [po.with_suffix(".mo")]
    with po.with_suffix(".mo").open("rb") as f:
        catalog = gettext.GNUTranslations(f)
    assert catalog.gettext("Password") == parse_po(po)["Password"] == "パスワード"
    assert startup.compile_stale_translations() == []  # fresh: nothing written
    later = po.with_suffix(".mo").stat().st_mtime_ns + 10**9
    os.utime(po, ns=(later, later))  # an edited (or pulled) .po
    assert startup.compile_stale_translations() == [po.with_suffix(".mo")]
    assert sorted(p.name for p in folder.iterdir()) == ["django.mo", "django.po"]
