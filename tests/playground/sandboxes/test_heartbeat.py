"""A playground process that dies is noticed by the others within seconds (issue 11,
point 5): two real daphne processes sharing a database and a redis-server; A runs a
sandbox and is killed with SIGKILL; B shows the sandbox "stopped: the playground process
that ran it ended" (in Japanese too), and Start on B works. The old code kept showing it
"running" with a dead pid.
"""

import os
import signal
from datetime import UTC, datetime, timedelta

import psycopg
from testkit.playgrounds import Browser, Daphne, one_port_env, two_daphnes
from testkit.waiting import wait_until

ENDED = "stopped: the playground process that ran it ended"
STALE_AFTER = 5.0  # heartbeat.STALE_AFTER: five missed beats


def test_a_killed_process_is_noticed_and_its_sandbox_can_start_again(
        tmp_path, redis_url, free_ports, pid_gone, compiled_translations):
    sandbox_port, port_a, port_b = free_ports(3)
    env = one_port_env(tmp_path, sandbox_port, REDIS_URL=redis_url)
    with two_daphnes(env, tmp_path, port_a, port_b) as (a, b):
        browser = Browser()
        sandbox = browser.new_sandbox(a, "beat", sandbox_port)
        status, started = browser.call(a, "POST", sandbox["links"]["start"])
        assert status == 200 and started["status"] == "running", started

        a.kill()  # kill -9: no atexit, no clean-up; its child exits on stdin EOF
        assert pid_gone(started["pid"], timeout=10)

        def noticed() -> dict | None:
            row = browser.call(b, "GET", sandbox["links"]["self"])[1]
            return row if row["status"] == "stopped" else None

        # Five missed beats (heartbeat.STALE_AFTER), then B's next sweep: a few seconds.
        row = wait_until(noticed, 15, "B to notice A's death", explain=b.output)
        assert row["message"] == ENDED and row["pid"] is None
        browser.opener.addheaders = [("Accept-Language", "ja")]
        in_japanese = browser.call(b, "GET", sandbox["links"]["self"])[1]["message"]
        assert in_japanese != ENDED and in_japanese  # worded for the viewer

        status, again = browser.call(b, "POST", sandbox["links"]["start"])
        assert status == 200 and again["status"] == "running", again
        status, stopped = browser.call(b, "POST", sandbox["links"]["stop"])
        assert status == 200 and stopped["status"] == "stopped"
        assert pid_gone(again["pid"], timeout=10)


def test_a_frozen_process_is_late_but_not_taken_for_dead(tmp_path, redis_url, postgres_url,
                                                         free_ports):
    """SIGSTOP: A stops beating but still exists, and so does its server. B must not
    mark the sandbox stopped (it runs). On PostgreSQL: a process frozen inside a SQLite
    write would hold the whole database, not only its own row."""
    sandbox_port, port_a, port_b = free_ports(3)
    env = one_port_env(tmp_path, sandbox_port, REDIS_URL=redis_url, DATABASE_URL=postgres_url)
    sites: list[Daphne] = []
    db = psycopg.connect(postgres_url.replace("postgres://", "postgresql://", 1),
                         autocommit=True)
    try:
        a = Daphne("A", env, tmp_path, port_a)
        b = Daphne("B", env, tmp_path, port_b)
        sites += [a, b]
        browser = Browser()
        _, sandbox = browser.call(a, "POST", "/api/sandboxes/",
                                  {"name": "frozen", "port": sandbox_port})
        status, started = browser.call(a, "POST", sandbox["links"]["start"])
        assert status == 200 and started["status"] == "running", started

        def beat_of(pid: int) -> datetime | None:
            row = db.execute("SELECT beat_at FROM playground_playgroundprocess "
                             "WHERE pid = %s", (pid,)).fetchone()
            return row[0] if row else None

        wait_until(lambda: beat_of(b.proc.pid), 15, "B's first beat")
        os.kill(a.proc.pid, signal.SIGSTOP)
        try:
            frozen_at = datetime.now(UTC)
            # Wait until A is late by more than STALE_AFTER, and B has beaten (and so
            # swept) after that.
            wait_until(lambda: (beat_of(b.proc.pid) or frozen_at) >
                       frozen_at + timedelta(seconds=STALE_AFTER + 1), 20,
                       "B to beat after A became late")
            row = browser.call(b, "GET", sandbox["links"]["self"])[1]
            assert row["status"] == "running" and row["pid"] == started["pid"], row
        finally:
            os.kill(a.proc.pid, signal.SIGCONT)
    finally:
        db.close()
        for site in sites:
            site.close()


def test_a_live_process_with_an_old_beat_keeps_its_row_and_its_sandbox(tmp_path, redis_url,
                                                                        free_ports):
    """Review 1d: old rows are forgotten only if their process ended. A does not beat
    (PLAYGROUND_HEARTBEAT off: its row is written once) and its last beat is two hours
    old, as after a suspend of the machine; it still exists, so B keeps its row and does
    not take its running sandbox for an orphan. The old code deleted the row by age
    alone: B then swept the sandbox "process ended" and ended its server."""
    import sqlite3

    sandbox_port, port_a, port_b = free_ports(3)
    env = one_port_env(tmp_path, sandbox_port, REDIS_URL=redis_url)
    sites: list[Daphne] = []
    db = sqlite3.connect(env["PLAYGROUND_DB"], timeout=20, isolation_level=None)
    try:
        a = Daphne("A", {**env, "PLAYGROUND_HEARTBEAT": "false"}, tmp_path, port_a)
        b = Daphne("B", env, tmp_path, port_b)
        sites += [a, b]
        browser = Browser()
        _, sandbox = browser.call(a, "POST", "/api/sandboxes/",
                                  {"name": "asleep", "port": sandbox_port})
        status, started = browser.call(a, "POST", sandbox["links"]["start"])
        assert status == 200 and started["status"] == "running", started

        def beat_of(pid: int) -> str | None:
            row = db.execute("SELECT beat_at FROM playground_playgroundprocess "
                             "WHERE pid = ?", (pid,)).fetchone()
            return row[0] if row else None

        assert beat_of(a.proc.pid) is not None  # registered once, by its Supervisor
        wait_until(lambda: beat_of(b.proc.pid), 15, "B's first beat")
        long_ago = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S.%f")
        db.execute("UPDATE playground_playgroundprocess SET beat_at = ? WHERE pid = ?",
                   (long_ago, a.proc.pid))
        since = beat_of(b.proc.pid)
        # Two of B's beats (each followed by its sweep and clean-up) after the change.
        wait_until(lambda: (beat_of(b.proc.pid) or "") > since, 15, "B to beat again")
        since = beat_of(b.proc.pid)
        wait_until(lambda: (beat_of(b.proc.pid) or "") > since, 15, "B to beat again")
        assert beat_of(a.proc.pid) == long_ago, "B forgot a live process's row"
        row = browser.call(b, "GET", sandbox["links"]["self"])[1]
        assert row["status"] == "running" and row["pid"] == started["pid"], row
        assert os.path.exists(f"/proc/{started['pid']}")
    finally:
        db.close()
        for site in sites:
            site.close()
