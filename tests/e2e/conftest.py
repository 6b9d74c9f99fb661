"""End-to-end fixtures: the playground run for real (`manage.py runserver`, i.e. daphne,
in a subprocess with its own database and data directory) and a real Chromium.

A missing browser skips the browser tests with the reason, except on CI (CI=true) or
when asked for the docs' screenshots, where it is a failure: a green CI run must mean
the browser test ran.

Screenshots go to build/screenshots/ (git-ignored); PLAYGROUND_SCREENSHOTS=docs sends
them to docs/img/, the README's pictures, instead (``make screenshots``).
"""

import http.cookiejar
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from testkit import ports, sandbox_pages, threads
from testkit.playgrounds import own_uid_base
from testkit.services import unavailable
from testkit.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]

# Playwright's sync API runs an event loop in this thread; Django refuses ORM calls from
# such a thread unless told this is fine (tests only).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PLAYWRIGHT_IO_THREADS = "playwright-io"

# PLAYGROUND_SCREENSHOTS -> where the browser tests save their screenshots.
SCREENSHOT_DIRS = {"": REPO / "build" / "screenshots", "build": REPO / "build" / "screenshots",
                   "docs": REPO / "docs" / "img"}


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
        self.port = ports.free_port()
        self.base = f"http://127.0.0.1:{self.port}"  # what runserver prints (canonical.py)
        # A settings module of our own: touching it makes the autoreloader restart.
        self.settings_file = tmp / "e2e_settings.py"
        self.settings_file.write_text("from playground.settings import *  # noqa\n")
        self.env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="e2e_settings",
            PYTHONPATH=os.pathsep.join([str(tmp), str(REPO)]),
            PLAYGROUND_DB=str(tmp / "db.sqlite3"),
            PLAYGROUND_DATA_DIR=str(tmp / "data"),
            PLAYGROUND_PROGRAM_UID_BASE=own_uid_base(),
            PYTHONUNBUFFERED="1",
            # One playground stands in for a whole class here, every browser coming from
            # 127.0.0.1: the budgets per address and network (test_budgets.py tests them)
            # would otherwise refuse tests that merely follow each other.
            PLAYGROUND_MAX_RUNNING_PER_ADDRESS="1000",
            PLAYGROUND_MAX_SANDBOXES_PER_ADDRESS="10000",
            PLAYGROUND_MAX_RUNNING_PER_NETWORK="1000",
            PLAYGROUND_MAX_SANDBOXES_PER_NETWORK="10000",
            # And the host's own cap (60 at once): the tests' sandboxes keep running until
            # the session ends, and the e2e folder starts more than 60 (idle henaserver
            # processes of ~20 MB each; a 503 here failed every test after the 60th).
            PLAYGROUND_MAX_RUNNING_SANDBOXES="1000",
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
        def answering() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"runserver exited:\n{self.output()}")
            try:
                urllib.request.urlopen(self.base + "/", timeout=2).read()
            except OSError:
                return False
            return True

        wait_until(answering, timeout, "runserver to answer", interval=0.2,
                   explain=self.output)

    def output(self) -> str:
        self.log.flush()
        return (self.tmp / "runserver.log").read_text(errors="replace")

    def api(self) -> Api:
        return Api(self.base)

    def manage(self, *args: str) -> str:
        """``manage.py ARGS`` on this playground's database (as a teacher prepares a
        lesson); its output, or a failure showing why not."""
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=self.env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

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


@pytest.fixture(scope="session")
def _one_playground(tmp_path_factory, compiled_translations):  # it serves Japanese too
    site = Playground(tmp_path_factory.mktemp("shared-playground"))
    yield site
    site.close()


@pytest.fixture
def shared_playground(_one_playground) -> Playground:
    """The playground that every test shares which only adds sandboxes of its own, in a
    browser session of its own (a new context or a new ``Api``): sandboxes, files,
    language and traffic all belong to a session, so such tests cannot see each other.
    Started once (each start costs a migrate and a server start). A test that restarts,
    kills or reconfigures the playground takes its own from ``playground_factory``."""
    if _one_playground.proc.poll() is not None:
        pytest.fail(f"the shared playground has exited:\n{_one_playground.output()}")
    return _one_playground


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


@pytest.fixture
def start_in_page():
    """start_in_page(page, name, port=None, mode=None): a started sandbox with the
    starter site, made from an open playground page (testkit.sandbox_pages)."""
    return sandbox_pages.start_in_page


@pytest.fixture
def sandbox_in_new_session(browser, shared_playground, start_in_page):
    """sandbox_in_new_session(name) -> (page, sandbox, errors): a new browser session
    (context) on the shared playground, its home page open, and a running sandbox of its
    own with the starter site; ``errors`` collects the page's uncaught exceptions. The
    context is closed after the test."""
    contexts = []

    def open_(name: str):
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(shared_playground.base + "/")
        sandbox = start_in_page(page, name)
        return page, sandbox, errors

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture
def isolation() -> None:
    """Programs run under bubblewrap as their own uid: that needs both (the playground
    runs them unisolated otherwise, which these tests are not about)."""
    if not shutil.which("bwrap"):
        unavailable("bubblewrap", "apt-get install bubblewrap")
    if os.geteuid() != 0:
        unavailable("root", "a program runs as its own uid, which only root can give it")
    if not os.access("/usr/bin/python3", os.X_OK):
        unavailable("Debian's python3", "programs run with /usr/bin/python3")


@pytest.fixture
def program_playground(playground_factory, isolation, monkeypatch, free_port):
    """A playground (in the module's ``tmp_path``: a module running programs takes
    testkit.program_pages.reachable_tmp_path) whose one port is a free one the OS chose:
    the default range's first port, which the form suggests, is what every other
    playground on this machine suggests too, and another test's browser opening it
    would reach this test's program."""
    monkeypatch.setenv("PLAYGROUND_PORT_RANGE", f"{free_port}-{free_port}")
    return playground_factory()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """Where to save screenshots: build/screenshots/ (git-ignored), or docs/img/ when
    PLAYGROUND_SCREENSHOTS=docs, so that a test run never changes a tracked file."""
    choice = os.environ.get("PLAYGROUND_SCREENSHOTS", "")
    if choice not in SCREENSHOT_DIRS:
        pytest.fail(f"PLAYGROUND_SCREENSHOTS={choice!r}: use one of "
                    f"{sorted(k for k in SCREENSHOT_DIRS if k)}")
    path = SCREENSHOT_DIRS[choice]
    path.mkdir(parents=True, exist_ok=True)
    return path


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
        if os.environ.get("PLAYGROUND_SCREENSHOTS") == "docs":
            pytest.fail(f"cannot take the docs' screenshots: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Playwright's event loop writes screenshots and reads uploads in its default
        # executor, whose threads live as long as the loop: this session. Named, so the
        # per-test thread check knows them.
        playwright._loop.set_default_executor(
            ThreadPoolExecutor(thread_name_prefix=PLAYWRIGHT_IO_THREADS))
        threads.outlive_tests(lambda: [t for t in threading.enumerate()
                                       if t.name.startswith(PLAYWRIGHT_IO_THREADS + "_")])
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
            args=CHROMIUM_ARGS)
        yield instance
        instance.close()
