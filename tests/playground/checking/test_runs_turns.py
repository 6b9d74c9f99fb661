"""Turns (docs/checks.md "Many runs at once"): a process runs at most
PLAYGROUND_CHECK_RUNS_AT_ONCE check runs; a run past it waits, its row saying so, a
Stop ends the wait, and its turn coming runs it. The turn held here is one of the
process's real turns (checking/turns.py), held by the test as a run would hold it.

transaction=True: the supervisor's, ingest's and the run's threads write too.
"""

import threading

import pytest
from testkit.checkruns import finished, outcomes, running_sandbox, start_run
from testkit.waiting import wait_until

from playground.checking import turns
from playground.models import CheckRun

pytestmark = pytest.mark.django_db(transaction=True)


def row(run: dict) -> CheckRun:
    return CheckRun.objects.get(pk=run["id"])


def test_a_run_past_the_limit_waits_and_a_stop_ends_the_wait(client, free_port, settings):
    settings.PLAYGROUND_CHECK_RUNS_AT_ONCE = 1
    sandbox = running_sandbox(client, free_port)
    held, release = threading.Event(), threading.Event()

    def another_run() -> None:  # holds the process's only turn until released
        with turns.turn(-1, threading.Event(), lambda ahead: None, lambda: False):
            held.set()
            release.wait(60)

    holder = threading.Thread(target=another_run, daemon=True)
    holder.start()
    try:
        assert held.wait(10)
        waiting = start_run(client, sandbox, through=1)
        wait_until(lambda: row(waiting).message, 10, "the run to say it waits")
        shown = client.get(waiting["links"]["self"]).json()
        assert shown["state"] == "running" and shown["message"] == (
            "waiting for its turn: the playground runs a few check runs at a time "
            "(ahead of this one: 1)")
        assert outcomes(shown) == []
        # A Stop while it waits: it ends stopped, having run nothing.
        assert client.post(waiting["links"]["stop"]).status_code == 202
        stopped = finished(client, waiting, timeout=30)
        assert stopped["state"] == "stopped" and outcomes(stopped) == []

        # The next run waits too, and runs when the turn is given back.
        queued = start_run(client, sandbox, through=1)
        wait_until(lambda: row(queued).message, 10, "the run to say it waits")
        assert row(queued).results == []
    finally:
        release.set()
        holder.join(10)
    run = finished(client, queued)
    assert run["state"] == "passed" and run["message"] is None, run
    assert outcomes(run) and all(o["passed"] for o in outcomes(run))
