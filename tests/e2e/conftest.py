"""End-to-end fixtures: the playground run for real (`manage.py runserver`, i.e. daphne,
in a subprocess with its own database and data directory) and a real Chromium.

A missing browser skips the browser tests with the reason, except on CI (CI=true),
where it is a failure: a green CI run must mean the browser test ran.
"""

import http.cookiejar
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]

# Playwright's sync API runs an event loop in this thread; Django refuses ORM calls from
# such a thread unless told this is fine (tests only).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Api:
    """A browser-like HTTP client for the playground: cookies plus the CSRF header."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.opener.open(base + "/", timeout=10).read()  # session + csrftoken cookies

    def call(self, method: str, path: str, data=None):
        token = next((c.value for c in self.jar if c.name == "csrftoken"), "")
        body = json.dumps(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body, method=method, headers={
            "X-CSRFToken": token, "Content-Type": "application/json"})
        try:
            with self.opener.open(request, timeout=15) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")


class Playground:
    """`manage.py runserver` in a subprocess (own session, so we can Ctrl+C its group)."""

    def __init__(self, tmp: Path, reload: bool = False):
        self.tmp = tmp
        self.port = _free_port()
        self.base = f"http://localhost:{self.port}"
        # A settings module of our own: touching it makes the autoreloader restart.
        self.settings_file = tmp / "e2e_settings.py"
        self.settings_file.write_text("from playground.settings import *  # noqa\n")
        self.env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="e2e_settings",
            PYTHONPATH=os.pathsep.join([str(tmp), str(REPO)]),
            PLAYGROUND_DB=str(tmp / "db.sqlite3"),
            PLAYGROUND_DATA_DIR=str(tmp / "data"),
            PYTHONUNBUFFERED="1",
        )
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=REPO,
                       env=self.env, check=True, capture_output=True)
        self.log = open(tmp / "runserver.log", "wb")
        args = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}"]
        if not reload:
            args.append("--noreload")
        self.proc = subprocess.Popen(args, cwd=REPO, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_until_up()

    def wait_until_up(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"runserver exited:\n{self.output()}")
            try:
                urllib.request.urlopen(self.base + "/", timeout=2).read()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"runserver did not answer in {timeout} s:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        return (self.tmp / "runserver.log").read_text(errors="replace")

    def api(self) -> Api:
        return Api(self.base)

    def serving_pid(self) -> int:
        """The process that serves requests: runserver itself, or its autoreload child."""
        children = _children_of(self.proc.pid)
        return children[0] if children else self.proc.pid

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
                found.append(int(entry))
    return found


@pytest.fixture
def playground_factory(tmp_path):
    started = []

    def start(reload: bool = False) -> Playground:
        path = tmp_path / f"pg{len(started)}"
        path.mkdir()
        site = Playground(path, reload=reload)
        started.append(site)
        return site

    yield start
    for site in started:
        site.close()


_START_IN_PAGE = """async ([name, port]) => {
  const sb = await PG.api("POST", "/api/sandboxes/", {name, port});
  await PG.api("POST", sb.links.starter, {});
  return await PG.api("POST", sb.links.start);
}"""


@pytest.fixture
def start_in_page():
    """start_in_page(page, name, port): from an open playground page, create a sandbox,
    give it the starter site and start it (with the page's own PG.api, as its buttons
    do). Returns the started sandbox's JSON."""
    def start(page, name: str, port) -> dict:
        return page.evaluate(_START_IN_PAGE, [name, int(port)])
    return start


def _why_no_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


@pytest.fixture(scope="session")
def browser():
    reason = _why_no_browser()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser tests cannot run on CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
            args=CHROMIUM_ARGS)
        yield instance
        instance.close()
