"""What outlives a program sandbox's bwrap is ended at Stop and at Delete (security
review): on a host without a control group, a program that takes over bwrap's pid 1
(test_program_hostile_init.py) left processes of its uid running until that sandbox's
next start, and for ever once the sandbox was deleted (its uid was never swept again).

The survivor here is a stubborn process of the sandbox's uid (it ignores SIGTERM and
leaves a ``setsid`` grandchild that does too), started directly as that uid: what such a
takeover leaves behind, whatever the run that made it. Read from /proc
(testkit.programs.processes_of).

transaction=True: the deletion's clean-up runs after the commit (lifecycle._deleted).
"""

import os
import subprocess
import textwrap

import pytest
from testkit.programs import processes_of, wait_none_of
from testkit.services import unavailable
from testkit.waiting import wait_until

from playground.models import Sandbox
from playground.sandboxes import heartbeat, runtime
from playground.sandboxes.exits import ExitInfo

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/api/sandboxes/"
# Far from the playground's 200000 + pk and the hostile tests' 400000 + port: the sweep
# kills every process of the uid, so a test must never share one with a real sandbox.
UID_BASE = 600000
STUBBORN = textwrap.dedent("""\
    import os, signal, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            while True:
                time.sleep(1)
        os._exit(0)
    while True:
        time.sleep(1)
""")


@pytest.fixture
def survivor(settings, free_port):
    """``start(sandbox_id) -> uid``: a stubborn parent and its setsid grandchild as the
    sandbox's uid, running before the test acts; whatever is left is ended after."""
    if os.geteuid() != 0:
        unavailable("root (to run a process as a program sandbox's uid)", "not root")
    settings.PLAYGROUND_PROGRAM_UID_BASE = UID_BASE + free_port
    started: list[tuple[int, subprocess.Popen]] = []

    def start(sandbox_id: int) -> int:
        uid = settings.PLAYGROUND_PROGRAM_UID_BASE + sandbox_id
        popen = subprocess.Popen(["/usr/bin/python3", "-c", STUBBORN], user=uid, group=uid,
                                 extra_groups=[], env={}, cwd="/",
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        started.append((uid, popen))
        wait_until(lambda: len(processes_of(uid)) == 2, 10,
                   "the stubborn parent and its grandchild to run")
        return uid

    yield start
    for uid, popen in started:
        for pid in processes_of(uid):
            os.kill(pid, 9)
        popen.wait(timeout=10)


def create(client, port, kind):
    body = {"name": "mine", "port": port, "kind": kind}
    if kind == "program":
        body["source"] = "print('hello')\n"
    response = client.post(LIST, body, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def test_a_deleted_program_sandbox_leaves_no_process_of_its_uid(client, free_port,
                                                                survivor):
    sb = create(client, free_port, "program")
    uid = survivor(sb["id"])
    assert client.delete(sb["links"]["self"]).status_code == 200
    wait_none_of(uid)


def test_stop_ends_what_outlived_the_program(client, free_port, survivor):
    sb = create(client, free_port, "program")
    uid = survivor(sb["id"])
    response = client.post(sb["links"]["stop"], content_type="application/json")
    assert response.status_code == 200, response.content
    wait_none_of(uid)


def test_a_henaserver_sandbox_ends_nothing_of_that_uid(client, free_port, survivor):
    """Its number is no program's uid: nothing runs as it on our behalf, so nothing
    of it is ours to kill."""
    sb = create(client, free_port, "henaserver")
    uid = survivor(sb["id"])
    client.post(sb["links"]["stop"], content_type="application/json")
    assert client.delete(sb["links"]["self"]).status_code == 200
    assert len(processes_of(uid)) == 2


def test_a_program_that_ended_by_itself_leaves_no_process_of_its_uid(client, free_port,
                                                                     survivor):
    """The supervisor's report of a run that ended by itself (runtime.record_exit, as
    ``on_exit`` calls it) sweeps the uid once the row is no longer live."""
    sb = create(client, free_port, "program")
    uid = survivor(sb["id"])
    Sandbox.objects.filter(pk=sb["id"]).update(status="running", pid=4242, claim="c",
                                               run_by=heartbeat.me())
    runtime.record_exit(str(sb["id"]), ExitInfo(pid=4242, returncode=1, requested=False,
                                                stderr_tail=("boom",), stdout_tail=(),
                                                cpu_seconds=60))
    assert Sandbox.objects.get(pk=sb["id"]).status == "crashed"
    wait_none_of(uid)


def test_a_newer_run_of_the_uid_is_left_alone(client, free_port, survivor):
    """A run that ended after a newer start claimed the row (another process's, say):
    the uid now runs the newer program, which is not to be killed."""
    sb = create(client, free_port, "program")
    uid = survivor(sb["id"])
    Sandbox.objects.filter(pk=sb["id"]).update(status="starting", pid=None, claim="newer",
                                               run_by=heartbeat.me())
    runtime.record_exit(str(sb["id"]), ExitInfo(pid=4242, returncode=1, requested=False,
                                                stderr_tail=(), stdout_tail=(),
                                                cpu_seconds=60))
    assert Sandbox.objects.get(pk=sb["id"]).claim == "newer"
    assert len(processes_of(uid)) == 2
