"""Runs and a history with no holes, with real sandboxes: henaserver children of this
process (through the API, the supervisor and the process's ingestor) answering real
keep-alive traffic. The one formula, per run and for all runs, is checked after each:
served = stored + removed + not_recorded (docs/api.md, "Runs and counts").

The formula alone proves little (runs.counts makes it hold), so each term is also
checked against a source of its own: served against the answers the client read,
stored against the rows in the table, not recorded against henaserver's own ``dropped``
counter or the seq gaps; removed is then what is left."""

import os
import signal

import pytest
from django.test import Client
from testkit.load import keep_alive_burst
from testkit.waiting import wait_until

from playground.models import Exchange, Run, Sandbox
from playground.traffic.ingest import ingestor

pytestmark = pytest.mark.django_db(transaction=True)


def create(client: Client, port: int, name: str = "t") -> dict:
    response = client.post("/api/sandboxes/", {"name": name, "port": port},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def post(client: Client, url: str) -> dict:
    response = client.post(url)
    assert response.status_code == 200, response.content
    return response.json()


def runs_of(client: Client, sandbox: dict) -> dict:
    response = client.get(f"/api/sandboxes/{sandbox['id']}/runs/")
    assert response.status_code == 200, response.content
    return response.json()


def add_up(counts: dict) -> bool:
    return (counts["served"] == counts["stored"] + counts["removed"] + counts["not_recorded"]
            and counts["not_recorded"] == sum(counts["not_recorded_reasons"].values()))


def settled(client: Client, sandbox: dict, served: int) -> dict:
    """The runs once every one of ``served`` exchanges is accounted for (the server's
    events and the ingest batches take a few milliseconds after the answers), and the
    rows counted as stored are the rows in the table."""
    def done() -> dict | None:
        ingestor().sync()
        data = runs_of(client, sandbox)
        rows = Exchange.objects.filter(sandbox_id=sandbox["id"]).count()
        return data if data["all"]["served"] >= served and \
            data["all"]["stored"] == rows else None
    return wait_until(done, 30, f"{served} exchanges to be accounted for")


def seqs(sandbox: dict) -> list[int]:
    return list(Exchange.objects.filter(sandbox_id=sandbox["id"]).order_by("seq")
                .values_list("seq", flat=True))


def test_a_burst_of_2000_keep_alive_requests_is_stored_whole(client, free_port):
    sandbox = post(client, create(client, free_port)["links"]["start"])
    assert keep_alive_burst(free_port, 2000, 10) == 2000
    data = settled(client, sandbox, 2000)
    counts = data["all"]
    assert (counts["served"], counts["stored"], counts["removed"], counts["not_recorded"]) \
        == (2000, 2000, 0, 0)
    assert seqs(sandbox) == list(range(1, 2001))  # no hole
    assert add_up(data["runs"][0]["counts"]) and data["current"] == 1


def test_a_flood_keeps_the_newest_with_no_hole_and_exact_totals(client, free_port, settings):
    settings.PLAYGROUND_RETENTION_EXCHANGES = 300
    sandbox = post(client, create(client, free_port)["links"]["start"])
    assert keep_alive_burst(free_port, 3000, 10) == 3000
    settled(client, sandbox, 3000)
    post(client, sandbox["links"]["stop"])  # henaserver's final server.stats: its drops
    ingestor().sync()
    counts = runs_of(client, sandbox)["all"]
    stored = seqs(sandbox)
    dropped = Sandbox.objects.get(pk=sandbox["id"]).events_dropped  # henaserver's count
    assert counts["served"] == 3000 and counts["stored"] == len(stored) == 300
    assert counts["not_recorded"] == dropped, (counts, dropped)
    assert counts["removed"] == 3000 - 300 - dropped and add_up(counts)
    # The newest 300, contiguous: whatever was lost is older than all of them.
    assert stored == list(range(stored[-1] - 299, stored[-1] + 1))
    assert stored[-1] == 3000 or dropped  # the newest, unless henaserver dropped it


def test_a_restart_begins_run_2_and_keeps_run_1(client, free_port, compiled_translations):
    sandbox = post(client, create(client, free_port)["links"]["start"])
    assert keep_alive_burst(free_port, 30, 3) == 30
    settled(client, sandbox, 30)
    post(client, sandbox["links"]["restart"])
    assert keep_alive_burst(free_port, 20, 2) == 20
    data = settled(client, sandbox, 50)
    one, two = data["runs"]
    assert (one["number"], two["number"], data["current"]) == (1, 2, 2)
    assert one["ended_at"] is not None and two["ended_at"] is None
    assert one["ended"] == "the server was stopped" and two["ended"] == ""
    assert (one["counts"]["served"], one["counts"]["stored"]) == (30, 30)
    assert (two["counts"]["served"], two["counts"]["stored"]) == (20, 20)
    assert data["all"]["served"] == 50 and all(
        add_up(c) for c in (one["counts"], two["counts"], data["all"]))
    assert seqs(sandbox) == list(range(1, 51))
    # The list takes ?run=: all by default, the current run, or a number.
    api = f"/api/sandboxes/{sandbox['id']}/exchanges/"
    assert len(client.get(api).json()["exchanges"]) == 50
    assert {i["run"] for i in client.get(api + "?run=current").json()["exchanges"]} == {2}
    assert len(client.get(api + "?run=1").json()["exchanges"]) == 30
    assert client.get(api + "?run=x").status_code == 400
    assert client.get(api + "?run=%C2%B2").status_code == 400  # "²": was a 500
    # How a run ended is worded in the viewer's language.
    client.cookies["django_language"] = "ja"
    assert runs_of(client, sandbox)["runs"][0]["ended"] == "サーバーを停止しました"
    assert runs_of(client, sandbox)["reasons"]["disk_full"] == \
        "データベースのディスクがいっぱいだった"
    assert "run には" in client.get(api + "?run=x").json()["error"]


def test_eviction_removes_the_oldest_and_counts_them(client, free_port, settings):
    settings.PLAYGROUND_RETENTION_EXCHANGES = 25
    sandbox = post(client, create(client, free_port)["links"]["start"])
    assert keep_alive_burst(free_port, 20, 2) == 20
    settled(client, sandbox, 20)
    post(client, sandbox["links"]["restart"])
    assert keep_alive_burst(free_port, 15, 3) == 15
    data = settled(client, sandbox, 35)
    one, two = (run["counts"] for run in data["runs"])
    assert (one["stored"], one["removed"], two["stored"], two["removed"]) == (10, 10, 15, 0)
    assert data["all"]["removed"] == 10 and all(add_up(c) for c in (one, two, data["all"]))
    assert seqs(sandbox) == list(range(11, 36))


def test_owner_retention_removes_the_owners_oldest_across_sandboxes(client, free_ports,
                                                                     settings):
    settings.PLAYGROUND_OWNER_RETENTION_EXCHANGES = 30
    first_port, second_port = free_ports(2)
    first = post(client, create(client, first_port, "a")["links"]["start"])
    second = post(client, create(client, second_port, "b")["links"]["start"])
    assert keep_alive_burst(first_port, 20, 2) == 20
    settled(client, first, 20)
    assert keep_alive_burst(second_port, 20, 2) == 20
    settled(client, second, 20)
    # 40 for one owner, 30 allowed: the 10 oldest, all the first sandbox's, are removed.
    assert seqs(first) == list(range(11, 21)) and seqs(second) == list(range(1, 21))
    counts = runs_of(client, first)["all"]
    assert (counts["removed"], counts["stored"]) == (10, 10) and add_up(counts)


def test_a_crash_ends_the_run_and_its_totals_are_what_was_recorded(client, free_port):
    sandbox = post(client, create(client, free_port)["links"]["start"])
    assert keep_alive_burst(free_port, 200, 4) == 200
    settled(client, sandbox, 200)
    pid = client.get(sandbox["links"]["self"]).json()["pid"]
    os.kill(pid, signal.SIGKILL)

    def ended() -> dict | None:
        ingestor().sync()
        run = runs_of(client, sandbox)["runs"][-1]
        return run if run["ended_at"] else None

    run = wait_until(ended, 10, "the crash to end the run")
    assert "stopped unexpectedly" in run["ended"]
    # Never the last server.stats of a second ago: at least what was received.
    assert run["counts"]["served"] == 200 and add_up(run["counts"])
    assert Run.objects.get(sandbox_id=sandbox["id"]).served == 200


def test_on_postgresql_a_burst_and_a_restart_add_up(tmp_path, postgres_url, free_ports):
    """The same through a real daphne process on a real PostgreSQL: the 2,000-request
    burst stored whole, then a second run."""
    from testkit.playgrounds import Browser, Daphne, one_port_env

    sandbox_port, site_port = free_ports(2)
    env = one_port_env(tmp_path, sandbox_port, DATABASE_URL=postgres_url)
    site = Daphne("A", env, tmp_path, site_port)
    try:
        browser = Browser()
        sandbox = browser.new_sandbox(site, "pg", sandbox_port)
        assert browser.call(site, "POST", sandbox["links"]["start"])[0] == 200
        assert keep_alive_burst(sandbox_port, 2000, 10) == 2000
        assert browser.call(site, "POST", sandbox["links"]["restart"])[0] == 200
        assert keep_alive_burst(sandbox_port, 10, 2) == 10

        def runs() -> dict | None:
            data = browser.call(site, "GET", f"/api/sandboxes/{sandbox['id']}/runs/")[1]
            return data if data["all"]["stored"] + data["all"]["removed"] == 2010 else None

        data = wait_until(runs, 30, "2,010 exchanges to be stored")
        one, two = (run["counts"] for run in data["runs"])
        # Retention 2,000: the 10 oldest of run 1 made room for run 2's 10.
        assert (one["served"], one["stored"], one["removed"]) == (2000, 1990, 10)
        assert (two["served"], two["stored"], two["removed"]) == (10, 10, 0)
        assert all(add_up(c) for c in (one, two, data["all"]))
        status, page = browser.call(
            site, "GET", f"/api/sandboxes/{sandbox['id']}/exchanges/?run=2")
        assert [i["seq"] for i in page["exchanges"]] == list(range(2001, 2011))
    finally:
        site.close()


def test_a_playground_killed_mid_run_leaves_a_closed_run_that_adds_up(tmp_path, free_ports):
    """kill -9 of the daphne process that ran a sandbox (its child ends with it): the
    next process finds the run still open, closes it when asked for the runs, with the
    row's message, and its totals are what was recorded. The next start is run 2."""
    from testkit.playgrounds import Browser, Daphne, one_port_env

    sandbox_port, first_port, second_port = free_ports(3)
    env = one_port_env(tmp_path, sandbox_port)
    browser = Browser()
    first = Daphne("A", env, tmp_path, first_port)
    try:
        sandbox = browser.new_sandbox(first, "k", sandbox_port)
        assert browser.call(first, "POST", sandbox["links"]["start"])[0] == 200
        assert keep_alive_burst(sandbox_port, 300, 3) == 300
        url = f"/api/sandboxes/{sandbox['id']}/runs/"
        wait_until(lambda: browser.call(first, "GET", url)[1]["all"]["stored"] == 300, 30,
                   "the burst to be stored")
        first.kill()
    finally:
        first.close()
    second = Daphne("B", env, tmp_path, second_port)
    try:
        status, data = browser.call(second, "GET", url)
        assert status == 200, data
        run = data["runs"][0]
        assert run["ended_at"] is not None and data["current"] is None
        assert run["ended"]  # the row's message, e.g. "stopped: the playground restarted"
        assert run["counts"]["stored"] == 300 and add_up(run["counts"])
        assert browser.call(second, "POST", sandbox["links"]["start"])[0] == 200
        data = browser.call(second, "GET", url)[1]
        assert [r["number"] for r in data["runs"]] == [1, 2] and data["current"] == 2
    finally:
        second.close()
