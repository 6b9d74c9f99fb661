"""Check runs on PostgreSQL, from two real daphne processes sharing it (and a
redis-server): a double click that lands on both processes at once starts one run (the
partial unique constraint, on PostgreSQL's partial index), and the run's outcomes and
labels are stored as JSON there (jsonb). The other tests of the checks run on SQLite.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from testkit.playgrounds import Browser, one_port_env, two_daphnes
from testkit.waiting import wait_until


def test_a_double_click_over_two_processes_starts_one_run(tmp_path, free_ports, redis_url,
                                                          postgres_url):
    sandbox_port, port_a, port_b = free_ports(3)
    env = one_port_env(tmp_path, sandbox_port, REDIS_URL=redis_url,
                       DATABASE_URL=postgres_url)
    with two_daphnes(env, tmp_path, port_a, port_b) as (a, b):
        browser = Browser()
        links = browser.new_sandbox(a, "pg", sandbox_port)["links"]
        status, started = browser.call(a, "POST", links["start"])
        assert status == 200 and started["status"] == "running", started
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(
                lambda site: browser.call(site, "POST", links["checks"], {"through": 5}),
                (a, b)))
        assert sorted(status for status, _ in answers) == [202, 409], answers
        run = next(body for status, body in answers if status == 202)

        def ended() -> dict | None:
            status, body = browser.call(b, "GET", run["links"]["self"])
            assert status == 200, body
            return body if body["state"] != "running" else None

        run = wait_until(ended, 60, "the run to end")
        assert (run["state"], run["reached"]) == ("passed", 5), run
        outcomes = [c for stage in run["stages"] for c in stage["checks"]]
        assert outcomes and all(o["exchanges"] for o in outcomes)
        status, listed = browser.call(a, "GET", links["exchanges"] + "?limit=200")
        assert status == 200
        # Each request a check sent is an exchange labelled with its check (checks may
        # judge a response an earlier check fetched: stages 1-3 share one).
        label_of = {item["seq"]: item["check"] for item in listed["exchanges"]}
        assert label_of and set(label_of.values()) <= {o["label"] for o in outcomes}
        assert {seq for o in outcomes for seq in o["exchanges"]} == set(label_of)
        status, listed = browser.call(b, "GET", links["checks"])
        assert (listed["reached"], listed["best"], len(listed["runs"])) == (5, 5, 1)
