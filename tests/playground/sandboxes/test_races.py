"""One outcome per action (issue 11, point 4): concurrent Start/Stop/Restart/Delete of
one sandbox, fired by threads at real daphne processes (one, or two sharing a database
and a redis-server), on SQLite and on PostgreSQL, end with at most one henaserver, a
row that says the truth, and a Stop that works; never a 5xx. The host-wide running limit
and the per-owner quota hold under concurrent requests from two processes.

The old code, ten concurrent Starts, ten rounds: 500s, rows "stopped" while the server
ran, and a server the playground no longer tracked; on PostgreSQL with a limit of 3,
eight concurrent starts over two processes left 8, then 4, then 5 running.
"""

from __future__ import annotations

import os
import random
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
from testkit.playgrounds import Browser, Daphne, migrate, playground_env
from testkit.waiting import wait_until

ROUNDS = 6
CLICKS = 10


def servers_on(port: int) -> list[int]:
    """Pids of live henaserver processes started for ``port`` (read from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except (OSError, IndexError):
            continue
        if state in ("Z", "X") or b"henaserver" not in args:
            continue
        if any(a == b"--port" and b == str(port).encode()
               for a, b in zip(args, args[1:], strict=False)):
            found.append(int(entry))
    return found


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return sock.recv(12).startswith(b"HTTP/1.1")
    except OSError:
        return False


def settled(browser: Browser, site: Daphne, sandbox: dict) -> dict:
    """The row once no start is under way, and once the processes agree with it."""
    def agree() -> dict | None:
        status, row = browser.call(site, "GET", sandbox["links"]["self"])
        assert status == 200, row
        if row["status"] == "starting":
            return None
        pids = servers_on(sandbox["port"])
        if row["status"] == "running":
            return row if pids == [row["pid"]] else None
        return row if not pids else None

    return wait_until(agree, 30, "the row and the processes to agree",
                      explain=lambda: f"henaservers on the port: {servers_on(sandbox['port'])}")


def fire(browser: Browser, calls: list[tuple[Daphne, str, str]]) -> list[tuple[int, object]]:
    """All ``calls`` (site, method, path) at once, from one browser session."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda c: browser.call(c[0], c[1], c[2], timeout=60), calls))


def no_server_error(answers_: list[tuple[int, object]]) -> None:
    errors = [(status, body) for status, body in answers_ if status >= 500]
    assert not errors, errors


def check_stop_works(browser: Browser, site: Daphne, sandbox: dict) -> None:
    status, stopped = browser.call(site, "POST", sandbox["links"]["stop"])
    assert status == 200 and stopped["status"] == "stopped", stopped
    wait_until(lambda: not servers_on(sandbox["port"]), 15, "the server to exit after Stop")


@pytest.fixture(params=["sqlite-one", "sqlite-two", "postgres-two"])
def sites(request, tmp_path, free_ports):
    """(sites, sandbox port, env): daphne processes sharing one database."""
    kind = request.param
    sandbox_port, *ports = free_ports(3)
    extra = {"PLAYGROUND_PORT_RANGE": f"{sandbox_port}-{sandbox_port}"}
    if kind.endswith("two"):
        extra["REDIS_URL"] = request.getfixturevalue("redis_url")
    if kind.startswith("postgres"):
        extra["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    env = playground_env(tmp_path, **extra)
    migrate(env)
    started: list[Daphne] = []
    try:
        for name, port in zip("AB", ports[:2 if kind.endswith("two") else 1], strict=False):
            started.append(Daphne(name, env, tmp_path, port))
        yield started, sandbox_port
    finally:
        for site in started:
            site.close()


def test_concurrent_starts_stops_and_restarts_end_in_one_truth(sites):
    sites_, port = sites
    browser = Browser()
    status, sandbox = browser.call(sites_[0], "POST", "/api/sandboxes/",
                                   {"name": "race", "port": port})
    assert status == 201, sandbox
    links = sandbox["links"]
    rng = random.Random(11)
    for round_ in range(ROUNDS):
        if round_ % 2 == 0:  # ten Starts, as a double (ten-fold) click
            calls = [(sites_[i % len(sites_)], "POST", links["start"]) for i in range(CLICKS)]
        else:  # a mix of everything
            calls = [(rng.choice(sites_), "POST", links[rng.choice(["start", "stop",
                                                                     "restart"])])
                     for _ in range(CLICKS)]
        answers_ = fire(browser, calls)
        no_server_error(answers_)
        row = settled(browser, sites_[0], sandbox)
        if round_ % 2 == 0:  # all Starts: every one answers "running", none 409
            assert row["status"] == "running", row
            assert all(s == 200 and b["status"] == "running" for s, b in answers_), answers_
        if row["status"] == "running":
            assert answers(port), "the row says running but nothing answers on the port"
            for site in sites_:  # every process tells the same truth
                assert browser.call(site, "GET", links["self"])[1]["pid"] == row["pid"]
        check_stop_works(browser, rng.choice(sites_), sandbox)


def test_concurrent_delete_and_start_leave_nothing_running(sites):
    sites_, port = sites
    browser = Browser()
    status, sandbox = browser.call(sites_[0], "POST", "/api/sandboxes/",
                                   {"name": "gone", "port": port})
    assert status == 201, sandbox
    links = sandbox["links"]
    browser.call(sites_[0], "POST", links["start"])
    calls = [(sites_[i % len(sites_)], "POST", links["start"]) for i in range(6)]
    calls.insert(3, (sites_[-1], "DELETE", links["self"]))
    no_server_error(fire(browser, calls))
    assert browser.call(sites_[0], "GET", links["self"])[0] == 404
    wait_until(lambda: not servers_on(port), 15, "no server left for the deleted sandbox",
               explain=lambda: f"left running: {servers_on(port)}")


@pytest.fixture(params=["sqlite", "postgres"])
def two_sites(request, tmp_path, free_ports, redis_url):
    """Two daphnes, a running limit of 3, a quota of 3 per owner, 16 sandbox ports."""
    *sandbox_ports, port_a, port_b = free_ports(18)
    extra = {"REDIS_URL": redis_url, "PLAYGROUND_MAX_RUNNING_SANDBOXES": "3",
             "PLAYGROUND_MAX_SANDBOXES_PER_OWNER": "3", "PLAYGROUND_PORT_RANGE": "1024-65535"}
    if request.param == "postgres":
        extra["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    env = playground_env(tmp_path, **extra)
    migrate(env)
    started: list[Daphne] = []
    try:
        started = [Daphne("A", env, tmp_path, port_a), Daphne("B", env, tmp_path, port_b)]
        yield started, sandbox_ports
    finally:
        for site in started:
            site.close()


def test_the_running_limit_and_the_quota_hold_under_concurrent_requests(two_sites):
    (a, b), sandbox_ports = two_sites
    # The quota: one owner, eight concurrent creations over two processes.
    owner = Browser()
    owner.call(a, "GET", "/api/sandboxes/")  # the page first, as a browser would
    with ThreadPoolExecutor(8) as pool:
        answers_ = list(pool.map(
            lambda i: owner.call((a, b)[i % 2], "POST", "/api/sandboxes/",
                                 {"name": f"q{i}", "port": sandbox_ports[i]}), range(8)))
    no_server_error(answers_)
    assert sorted(s for s, _ in answers_) == [201] * 3 + [400] * 5, answers_
    assert len(owner.call(a, "GET", "/api/sandboxes/")[1]["sandboxes"]) == 3

    # The running limit: eight owners start one sandbox each at once, over two processes.
    owners = [Browser() for _ in range(8)]
    made = []
    for i, browser in enumerate(owners):
        status, sandbox = browser.call(a, "POST", "/api/sandboxes/",
                                       {"name": f"r{i}", "port": sandbox_ports[8 + i]})
        assert status == 201, sandbox
        made.append(sandbox)
    with ThreadPoolExecutor(8) as pool:
        answers_ = list(pool.map(
            lambda i: owners[i].call((a, b)[i % 2], "POST", made[i]["links"]["start"],
                                     timeout=60), range(8)))
    no_server_error([x for x in answers_ if x[0] != 503])
    assert sorted(s for s, _ in answers_) == [200] * 3 + [503] * 5, answers_
    running = [m for m, (s, _) in zip(made, answers_, strict=True) if s == 200]
    assert sum(len(servers_on(m["port"])) for m in made) == 3
    for sandbox, browser in zip(made, owners, strict=True):
        row = browser.call(b, "GET", sandbox["links"]["self"])[1]
        assert row["status"] == ("running" if sandbox in running else "stopped"), row
    for sandbox in running:
        owner_of = owners[made.index(sandbox)]
        check_stop_works(owner_of, a, sandbox)
