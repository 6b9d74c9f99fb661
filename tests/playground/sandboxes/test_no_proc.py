"""Review 1e: a host without /proc (macOS; here, a mount namespace that hides it) still
starts sandboxes and keeps its processes' liveness: the playground falls back to what
it can know (leftovers.HAS_PROC). The old code answered every Start with a 500
(``os.listdir("/proc")``), and its processes, unable to read each other's start time,
took each other for dead at the first sweep.

Two real daphne processes, each run by ``unshare --mount`` with an empty tmpfs over
/proc (root only: skipped where this cannot be done)."""

import subprocess
import time

import pytest
from testkit.playgrounds import Browser, one_port_env, two_daphnes
from testkit.waiting import wait_until

# Runs the rest of the command with /proc empty. `sh -c '...' "$0" "$@"` execs it, so
# the process started is the program itself (its pid is the one the test holds).
HIDE_PROC = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             'mount -t tmpfs none /proc && exec "$0" "$@"']
STALE_AFTER = 5.0  # heartbeat.STALE_AFTER


def can_hide_proc() -> bool:
    try:
        done = subprocess.run([*HIDE_PROC, "test", "!", "-e", "/proc/self"],
                              capture_output=True, timeout=10)
    except OSError:
        return False
    return done.returncode == 0


def test_without_proc_a_start_works_and_peers_are_not_taken_for_dead(tmp_path, redis_url,
                                                                      free_ports):
    if not can_hide_proc():
        pytest.skip("cannot hide /proc here (needs root and unshare)")
    sandbox_port, port_a, port_b = free_ports(3)
    env = one_port_env(tmp_path, sandbox_port, REDIS_URL=redis_url)
    with two_daphnes(env, tmp_path, port_a, port_b, prefix=HIDE_PROC) as (a, b):
        browser = Browser()
        sandbox = browser.new_sandbox(a, "no proc", sandbox_port)
        status, started = browser.call(a, "POST", sandbox["links"]["start"])
        assert status == 200 and started["status"] == "running", (started, a.output())

        # B beats and sweeps every second; past STALE_AFTER, A (beating too) must still
        # be alive to it: its sandbox still running, with its pid.
        since = time.monotonic()

        def long_enough() -> bool:
            row = browser.call(b, "GET", sandbox["links"]["self"])[1]
            assert row["status"] == "running" and row["pid"] == started["pid"], row
            return time.monotonic() - since > STALE_AFTER + 2
        wait_until(long_enough, 20, "B to have swept a few times", interval=0.5)

        status, stopped = browser.call(b, "POST", sandbox["links"]["stop"])
        assert status == 200 and stopped["status"] == "stopped", stopped
        status, again = browser.call(b, "POST", sandbox["links"]["start"])
        assert status == 200 and again["status"] == "running", (again, b.output())
        status, stopped = browser.call(b, "POST", sandbox["links"]["stop"])
        assert status == 200 and stopped["status"] == "stopped", stopped
