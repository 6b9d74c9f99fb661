"""Runs and their counts across two real daphne processes (redis-server, PostgreSQL):
process B restarts the sandbox that process A runs, right after a burst that A's ingest
writer is still storing (review finding 2, the scenario of finding 1a).

Each count is checked against a source of its own, never against the formula alone:
served against the answers the test's client read, stored against the rows the list
API lists, not recorded against the gaps in the listed seqs.
"""

from testkit.load import keep_alive_burst
from testkit.playgrounds import Browser, Daphne, one_port_env, two_daphnes
from testkit.waiting import wait_until

# Large enough, and with bodies large enough (each exchange stores 48 KB), that A's
# writer is still storing the burst when B restarts: 1,500 x 48 KB is ~70 MB to write.
BURST = 1500
BODY = 48 * 1024


def listed(browser: Browser, site: Daphne, sandbox_id: int, run: int) -> list[int]:
    """Seqs of the run's rows, as the list API pages them out."""
    seqs: list[int] = []
    after = 0
    while True:
        status, page = browser.call(
            site, "GET", f"/api/sandboxes/{sandbox_id}/exchanges/?run={run}&after={after}")
        assert status == 200, page
        seqs += [item["seq"] for item in page["exchanges"]]
        if not page["more"]:
            return seqs
        after = page["next_after"]


def test_a_restart_from_another_process_right_after_a_burst_keeps_each_run_true(
        tmp_path, redis_url, postgres_url, free_ports):
    sandbox_port, port_a, port_b = free_ports(3)
    env = one_port_env(tmp_path, sandbox_port, REDIS_URL=redis_url, DATABASE_URL=postgres_url,
                       PLAYGROUND_RETENTION_EXCHANGES="10000",
                       PLAYGROUND_RETENTION_BYTES=str(2**30),
                       PLAYGROUND_OWNER_RETENTION_BYTES=str(2**30))
    with two_daphnes(env, tmp_path, port_a, port_b) as (a, b):
        browser = Browser()
        sandbox = browser.new_sandbox(a, "two", sandbox_port)
        links, sid = sandbox["links"], sandbox["id"]
        (tmp_path / "data" / "sandboxes" / str(sid) / "big.bin").write_bytes(b"x" * BODY)
        status, started = browser.call(a, "POST", links["start"])
        assert status == 200 and started["status"] == "running", started
        answered = keep_alive_burst(sandbox_port, BURST, 10, "/big.bin")
        # At once, through the other process: A's writer still holds the burst's tail.
        status, restarted = browser.call(b, "POST", links["restart"])
        assert status == 200 and restarted["status"] == "running", restarted
        assert "did not answer" not in (restarted.get("message") or "")
        second = keep_alive_burst(sandbox_port, 10, 2)

        url = f"/api/sandboxes/{sid}/runs/"

        def settled() -> dict | None:
            data = browser.call(b, "GET", url)[1]
            runs = data["runs"]
            return data if len(runs) == 2 and runs[1]["counts"]["served"] >= second \
                and runs[0]["ended_at"] else None

        data = wait_until(settled, 60, "both runs to be accounted for")
        one, two = (run["counts"] for run in data["runs"])
        seqs_one, seqs_two = listed(browser, a, sid, 1), listed(browser, b, sid, 2)

        # Run 1: exactly what A's server answered; stored is what the list shows; what
        # is not recorded is exactly the seqs missing from it, and only henaserver's
        # own drops (capture_queue_full), never a database error.
        assert one["served"] == answered == BURST, one
        assert one["stored"] == len(seqs_one) and one["removed"] == 0, one
        base = min(seqs_one) - 1
        missing = set(range(base + 1, base + BURST + 1)) - set(seqs_one)
        assert max(seqs_one) <= base + BURST
        assert one["not_recorded"] == len(missing), (one, len(missing))
        assert set(one["not_recorded_reasons"]) <= {"capture_queue_full"}, one
        # Run 2 starts clean, numbered after every seq of run 1, contiguous.
        assert (two["served"], two["stored"], two["removed"], two["not_recorded"]) \
            == (second, second, 0, 0), two
        assert seqs_two == list(range(seqs_two[0], seqs_two[0] + second))
        assert seqs_two[0] > max(seqs_one)
