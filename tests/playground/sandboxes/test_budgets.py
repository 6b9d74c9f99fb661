"""Budgets that dropping cookies cannot reset (sandboxes/budgets.py), on a real daphne
with real browsers-like clients from different source addresses (127.0.0.1 and
127.0.0.2 both reach a loopback daphne), and the one rule that picks the client's
address behind proxies, as a table.

On the code before budgets, every fresh cookie jar was a fresh owner: the sessions
below all got their sandboxes and their starts.
"""

from __future__ import annotations

import functools
import http.client
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from testkit.playgrounds import REPO, Browser, Daphne, migrate, playground_env

from playground.sandboxes import budgets, runtime


class _FromAddress(urllib.request.HTTPHandler):
    """Connects from a chosen local address (any 127.x.y.z reaches the loopback)."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source

    def http_open(self, req):  # noqa: ANN001 (urllib's own signature)
        return self.do_open(functools.partial(http.client.HTTPConnection,
                                              source_address=(self.source, 0)), req)


class AddressedBrowser(Browser):
    """A Browser (one cookie jar) whose requests come from ``source`` and carry
    ``headers`` (e.g. an X-Forwarded-For a client made up)."""

    def __init__(self, source: str = "127.0.0.1", **headers: str) -> None:
        super().__init__()
        self.opener = urllib.request.build_opener(
            _FromAddress(source), urllib.request.HTTPCookieProcessor(self.jar))
        self.opener.addheaders = [(k.replace("_", "-"), v) for k, v in headers.items()]

    def create(self, site: Daphne, name: str, port: int) -> tuple[int, dict]:
        return self.call(site, "POST", "/api/sandboxes/", {"name": name, "port": port})


@pytest.fixture
def site_with(tmp_path, free_port):
    """site_with(**settings): a daphne of its own with those PLAYGROUND_* settings."""
    started: list[Daphne] = []

    def start(unix: Path | None = None, **settings: str) -> Daphne:
        env = playground_env(tmp_path, PLAYGROUND_PORT_RANGE="1024-65535", **settings)
        migrate(env)
        started.append(Daphne(f"budgets{len(started)}", env, tmp_path, free_port,
                              unix=unix))
        return started[-1]

    yield start
    for daphne in started:
        daphne.close()


def test_many_sessions_from_one_address_are_refused_past_its_budget(site_with, free_ports):
    site = site_with(PLAYGROUND_MAX_SANDBOXES_PER_ADDRESS="3")
    ports = free_ports(6)
    # Four throw-away cookie jars from one address, each claiming to be forwarded for
    # someone else: the header is not configured, so it is never read.
    made, jars = [], []
    for n in range(3):
        jars.append(AddressedBrowser(X_Forwarded_For=f"198.51.100.{n}"))
        status, sandbox = jars[-1].create(site, f"s{n}", ports[n])
        assert status == 201, sandbox
        made.append(sandbox)
    first_jar = jars[0]
    status, refused = AddressedBrowser(X_Forwarded_For="198.51.100.9").create(
        site, "one too many", ports[3])
    assert status == 429, refused
    assert refused["limit"] == "sandboxes_per_address"
    assert "from your network address" in refused["error"]
    # Another address still gets its sandbox.
    other = AddressedBrowser("127.0.0.2")
    status, theirs = other.create(site, "elsewhere", ports[4])
    assert status == 201, theirs

    # Deleting one gives the address its room back (the budget counts what exists).
    assert first_jar.call(site, "DELETE", made[0]["links"]["self"])[0] == 200
    status, again = AddressedBrowser().create(site, "room again", ports[5])
    assert status == 201, again


def test_one_address_runs_a_bounded_number_whatever_its_sessions(site_with, free_ports):
    site = site_with(PLAYGROUND_MAX_SANDBOXES_PER_ADDRESS="10",
                     PLAYGROUND_MAX_RUNNING_PER_ADDRESS="2")
    ports = free_ports(4)
    starts = []
    for n in range(3):
        browser = AddressedBrowser()  # a fresh cookie jar: a new anonymous owner
        status, sandbox = browser.create(site, f"s{n}", ports[n])
        assert status == 201, sandbox
        starts.append(browser.call(site, "POST", sandbox["links"]["start"]))
    assert [status for status, _ in starts] == [200, 200, 429], starts
    refused = starts[2][1]
    assert refused["limit"] == "running_per_address"
    assert "stop one of them, or wait" in refused["error"]
    assert refused.get("sandbox", {}).get("status", "stopped") == "stopped"
    # Another address is not held back by this one.
    other = AddressedBrowser("127.0.0.2")
    status, theirs = other.create(site, "elsewhere", ports[3])
    assert status == 201, theirs
    status, started = other.call(site, "POST", theirs["links"]["start"])
    assert status == 200 and started["status"] == "running", started


def test_the_trusted_header_is_read_from_the_right_and_only_from_a_trusted_proxy(
        site_with, free_ports):
    site = site_with(PLAYGROUND_MAX_SANDBOXES_PER_ADDRESS="1",
                     PLAYGROUND_CLIENT_ADDRESS_HEADER="X-Forwarded-For",
                     PLAYGROUND_TRUSTED_PROXIES="127.0.0.1")
    ports = iter(free_ports(6))

    def create(source: str, forwarded: str) -> int:
        status, body = AddressedBrowser(source, X_Forwarded_For=forwarded).create(
            site, "s", next(ports))
        assert status in (201, 429), body
        return status

    # Through the proxy (127.0.0.1): the client is the right-most entry, whatever the
    # client put on its left.
    assert create("127.0.0.1", "6.6.6.6, 203.0.113.7") == 201
    assert create("127.0.0.1", "7.7.7.7, 203.0.113.7") == 429  # same client, new lie
    assert create("127.0.0.1", "203.0.113.8") == 201  # another client behind the proxy
    # Straight from an untrusted peer, the header is the client's own words: ignored.
    assert create("127.0.0.2", "203.0.113.9") == 201
    assert create("127.0.0.2", "203.0.113.10") == 429


@pytest.mark.django_db(transaction=True)
def test_one_owner_cannot_take_more_than_its_share(client, free_ports, settings,
                                                   compiled_translations):
    settings.PLAYGROUND_MAX_RUNNING_SANDBOXES = 3
    settings.PLAYGROUND_MAX_RUNNING_PER_OWNER = 2
    ports = free_ports(4)
    mine = [client.post("/api/sandboxes/", {"name": f"m{n}", "port": ports[n]},
                        content_type="application/json").json() for n in range(3)]
    try:
        for sandbox in mine[:2]:
            assert client.post(sandbox["links"]["start"]).status_code == 200
        refused = client.post(mine[2]["links"]["start"])
        assert refused.status_code == 429, refused.json()
        assert refused.json()["limit"] == "running_per_owner"
        assert "your share of this playground" in refused.json()["error"]
        japanese = client.post(mine[2]["links"]["start"], HTTP_ACCEPT_LANGUAGE="ja")
        assert japanese.status_code == 429
        assert "取り分" in japanese.json()["error"], japanese.json()
        # Someone else still gets the host's last slot.
        other = Client(REMOTE_ADDR="127.0.0.2")
        theirs = other.post("/api/sandboxes/", {"name": "t", "port": ports[3]},
                            content_type="application/json").json()
        assert other.post(theirs["links"]["start"]).status_code == 200
    finally:
        runtime.stop_all()


# ----- the address rule, as a table -----------------------------------------------------

CASES = [
    # header setting, count, trusted list, REMOTE_ADDR, header value -> budget address
    ("", 0, [], "203.0.113.5", "1.2.3.4", "203.0.113.5"),  # not configured: ignored
    ("X-Forwarded-For", 1, [], "10.0.0.1", "1.2.3.4, 203.0.113.5", "203.0.113.5"),
    ("X-Forwarded-For", 2, [], "10.0.0.1", "1.2.3.4, 203.0.113.5, 10.0.0.2",
     "203.0.113.5"),
    ("X-Forwarded-For", 0, ["10.0.0.0/8"], "10.0.0.1", "9.9.9.9, 203.0.113.5, 10.0.0.2",
     "203.0.113.5"),
    # The peer is no trusted proxy: the header is whatever the client wrote.
    ("X-Forwarded-For", 0, ["10.0.0.0/8"], "198.51.100.1", "203.0.113.5", "198.51.100.1"),
    # Only proxies in the list: the left-most entry is all there is.
    ("X-Forwarded-For", 0, ["10.0.0.0/8"], "10.0.0.1", "10.0.0.7", "10.0.0.7"),
    # No header through the proxy: the proxy's own address (all its clients share it).
    ("X-Forwarded-For", 1, [], "10.0.0.1", "", "10.0.0.1"),
    # Garbage where the proxy should have written an address: the proxy is counted.
    ("X-Forwarded-For", 1, [], "10.0.0.1", "1.2.3.4, unknown", "10.0.0.1"),
    # IPv6 counted by its /64; IPv4-mapped as IPv4; ports and brackets as proxies write.
    ("", 0, [], "2001:db8:1:2:aaaa::1", "", "2001:db8:1:2::/64"),
    ("X-Real-IP", 1, [], "10.0.0.1", "[2001:db8::5]:4711", "2001:db8::/64"),
    ("X-Forwarded-For", 1, [], "::ffff:10.0.0.1", "203.0.113.5:1234", "203.0.113.5"),
    # No peer address (daphne -u, a Unix socket: only a local proxy reaches it): the
    # peer is a trusted hop, in count mode too (it is the one hop counted).
    ("X-Forwarded-For", 1, [], "", "1.2.3.4, 203.0.113.5", "203.0.113.5"),
    ("X-Forwarded-For", 0, ["127.0.0.1"], "", "203.0.113.5", "203.0.113.5"),
    ("X-Forwarded-For", 0, ["127.0.0.1"], "", "1.2.3.4, 127.0.0.1", "1.2.3.4"),
    # ... and never an empty key: whoever cannot be told apart shares one budget.
    ("X-Forwarded-For", 1, [], "", "", "unknown"),
    ("X-Forwarded-For", 1, [], "", "garbage", "unknown"),
    ("", 0, [], "", "", "unknown"),
    ("", 0, [], "not an address", "", "unknown"),
]


@pytest.mark.parametrize(("header", "count", "trusted", "remote", "value", "expected"), CASES)
def test_the_client_address_rule(settings, header, count, trusted, remote, value, expected):
    settings.PLAYGROUND_CLIENT_ADDRESS_HEADER = header
    settings.PLAYGROUND_TRUSTED_PROXY_COUNT = count
    settings.PLAYGROUND_TRUSTED_PROXIES = trusted
    meta = {"REMOTE_ADDR": remote}
    if value:
        meta["HTTP_" + (header or "X-Forwarded-For").upper().replace("-", "_")] = value
    assert budgets.client_address(meta) == expected


# client_address key -> the wider (network) budget's key: an IPv6 /64's /48.
NETWORKS = [
    ("2001:db8:1:2::/64", "2001:db8:1::/48"),
    ("2001:db8:1:ff00::/64", "2001:db8:1::/48"),  # another /64 of the same customer
    ("2001:db8:2:2::/64", "2001:db8:2::/48"),
    ("203.0.113.5", "203.0.113.5"),  # IPv4: the address is its own network
    ("unknown", "unknown"),
]


@pytest.mark.parametrize(("key", "network"), NETWORKS)
def test_the_network_of_an_address(key, network):
    assert budgets.network_of(key) == network


def test_one_ipv6_customer_cannot_escape_the_budget_by_changing_its_64(site_with,
                                                                      free_ports):
    """A /48 holds 65,536 /64s: each new /64 got a fresh per-address budget before."""
    site = site_with(PLAYGROUND_MAX_SANDBOXES_PER_ADDRESS="1",
                     PLAYGROUND_MAX_SANDBOXES_PER_NETWORK="2",
                     PLAYGROUND_CLIENT_ADDRESS_HEADER="X-Forwarded-For",
                     PLAYGROUND_TRUSTED_PROXIES="127.0.0.1")
    ports = iter(free_ports(4))

    def create(forwarded: str) -> tuple[int, dict]:
        return AddressedBrowser(X_Forwarded_For=forwarded).create(site, "s", next(ports))

    assert create("2001:db8:7:1::1")[0] == 201
    assert create("2001:db8:7:2::1")[0] == 201  # another /64 of the same /48
    status, refused = create("2001:db8:7:3::1")
    assert status == 429, refused
    assert refused["limit"] == "sandboxes_per_network"
    assert "2001:db8:7::/48" in refused["error"]
    assert create("2001:db8:8:1::1")[0] == 201  # another customer


def test_budgets_hold_on_a_unix_socket(site_with, free_ports):
    """daphne -u (behind a proxy on the same host) has no TCP peer: REMOTE_ADDR is
    absent. Without a header every client shares one budget ("unknown"); with one, the
    socket's peer is the trusted proxy and the header names the client. Before, both
    cases had no budget at all."""
    folder = Path(tempfile.mkdtemp(prefix="pgu", dir="/tmp"))  # a short socket path
    try:
        for header in ("", "X-Forwarded-For"):
            sock = folder / f"d{len(header)}.sock"
            site = site_with(unix=sock, PLAYGROUND_MAX_SANDBOXES_PER_ADDRESS="1",
                             PLAYGROUND_CLIENT_ADDRESS_HEADER=header,
                             PLAYGROUND_TRUSTED_PROXY_COUNT="1" if header else "0")
            ports = iter(free_ports(3))

            def create(forwarded: str, sock: Path = sock, site: Daphne = site,
                       ports: Iterator[int] = ports) -> tuple[int, dict]:
                browser = Browser(unix=sock)
                browser.opener.addheaders = [("X-Forwarded-For", forwarded)]
                return browser.call(site, "POST", "/api/sandboxes/",
                                    {"name": "s", "port": next(ports)})

            assert create("203.0.113.1")[0] == 201
            status, refused = create("203.0.113.1")
            assert status == 429, refused
            assert refused["limit"] == "sandboxes_per_address"
            # Through the proxy, another client has a budget of its own.
            assert create("203.0.113.2")[0] == (201 if header else 429)
            site.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.django_db
def test_the_address_columns_have_a_database_default():
    """A process of the release before, still running during a rolling upgrade,
    inserts rows without the new columns: on PostgreSQL a NOT NULL column without a
    database default refused them."""
    with connection.cursor() as cursor:
        columns = {column.name: column for column in connection.introspection
                   .get_table_description(cursor, "playground_sandbox")}
    for name in ("client_address", "client_network"):
        assert columns[name].default not in (None, "NULL"), columns[name]


def test_a_header_without_a_trusted_proxy_is_a_configuration_error(tmp_path):
    env = playground_env(tmp_path, PLAYGROUND_CLIENT_ADDRESS_HEADER="X-Forwarded-For")
    done = subprocess.run([sys.executable, "-c", "import django; django.setup()"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "PLAYGROUND_TRUSTED_PROXY_COUNT or PLAYGROUND_TRUSTED_PROXIES" in done.stderr
