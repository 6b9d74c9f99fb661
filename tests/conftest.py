"""Shared by every test package: fixtures only. Helpers live in ``testkit`` (import it
by name); each package has its own conftest for its own fixtures."""

import gc
import os
import threading
from pathlib import Path

import pytest
from testkit import ports, services, threads, waiting

# How long a thread a test stopped (or told to stop) may take to end before the test
# is failed for leaving it running: joins and queue wake-ups take milliseconds.
THREAD_GRACE = 5.0


def pytest_configure(config):
    # The playground's test database is a file here (settings.DATABASES TEST NAME).
    (Path(__file__).resolve().parent.parent / "test-data").mkdir(exist_ok=True)
    # Test modules import playground.asgi at collection, when pytest-django forbids the
    # database: the in-process site is migrated by pytest-django, not at import
    # (processes the tests start migrate themselves, as runserver does). And no heartbeat
    # thread in the test process (it would sweep the tests' rows): only the playground
    # processes tests start beat.
    from django.conf import settings

    settings.PLAYGROUND_AUTO_MIGRATE = False
    settings.PLAYGROUND_HEARTBEAT = False


@pytest.fixture
def free_port() -> int:
    """A port nothing listens on and no other test was given (testkit.ports)."""
    return ports.free_port()


@pytest.fixture
def free_ports():
    """free_ports(n): n distinct ports, as ``free_port``."""
    return ports.free_ports


@pytest.fixture
def pid_gone():
    """pid_gone(pid, timeout=5.0): True once the process has exited (testkit.waiting)."""
    return waiting.pid_gone


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real redis-server's URL: the one .ci/run started (PLAYGROUND_TEST_REDIS_URL),
    else one of this run's own (testkit.services; skipped without redis-server, failed
    under CI=true)."""
    if os.environ.get("PLAYGROUND_TEST_REDIS_URL"):
        yield os.environ["PLAYGROUND_TEST_REDIS_URL"]
        return
    with services.redis_server(tmp_path_factory.mktemp("redis"), ports.free_port()) as url:
        yield url


@pytest.fixture
def redis_url(redis_server):
    """A REDIS_URL for one test: a database of the shared server, emptied first, so no
    channel or group of an earlier test is still there."""
    yield services.empty_redis_database(redis_server)


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL cluster's URL (its ``postgres`` database): the one .ci/run
    started (PLAYGROUND_TEST_POSTGRES_URL), else a throwaway one of this run's own."""
    if os.environ.get("PLAYGROUND_TEST_POSTGRES_URL"):
        yield os.environ["PLAYGROUND_TEST_POSTGRES_URL"]
        return
    with services.postgres_cluster(ports.free_port()) as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh, empty PostgreSQL database for one test (a DATABASE_URL); dropped after."""
    url = services.fresh_database(postgres_server)
    yield url
    services.drop_database(url)


@pytest.fixture(scope="session")
def compiled_translations():
    """locale/*.mo compiled from the .po files now, as `make install` does: a test that
    reads Japanese (in this process or in a playground it starts) must depend neither on
    `make install` having run since the last .po edit nor on another test having
    compiled them first. Django caches catalogs per process: this one's are dropped."""
    from django.core.management import call_command
    from django.utils.translation import trans_real

    call_command("compiletranslations", verbosity=0)
    trans_real._translations.clear()
    trans_real._default = None


@pytest.fixture(autouse=True)
def no_thread_left_running():
    """Fail the test that leaves a thread of its own running (testkit.threads says
    which may stay). Autouse in the root conftest: set up before the test's own fixtures
    and torn down after them, so what a fixture stops at teardown is stopped by then."""
    before = set(threading.enumerate())
    yield
    if not threads.left_running(before):
        return
    # An executor nobody references any more ends its worker threads when it is
    # collected; one caught in a reference cycle (an exception's traceback holding the
    # frame that made it, as in asgiref's async_to_sync) waits for the cycle collector.
    gc.collect()
    try:
        waiting.wait_until(lambda: not threads.left_running(before), THREAD_GRACE,
                           "the test's threads to end", interval=0.01)
    except AssertionError:
        names = ", ".join(f"{t.name} (daemon={t.daemon})"
                          for t in threads.left_running(before))
        pytest.fail(f"the test left threads running: {names}; stop each thread a test "
                    f"starts (e.g. Ingestor.stop())", pytrace=False)
