"""One run per sandbox, Stop, and where the generated files go in a program sandbox
(issue 14 points 2, 5 and 6; docs/checks.md "Where the files go"), against a learner's
program under the real bubblewrap behind the real capture relay: a server that accepts
connections and never answers, so every check waits for its deadline and the run is
surely still going while the test acts on it.

transaction=True: the supervisor's, ingest's and the run's threads write too.
"""

import textwrap
from pathlib import Path

import pytest
from testkit.checkruns import finished, outcomes, start_run
from testkit.program_api import api_create, api_post, isolated_playground
from testkit.waiting import wait_until

from playground.files.storage import root_of
from playground.models import CheckPort, CheckRun, Sandbox

pytestmark = pytest.mark.django_db(transaction=True)

# Accepts every connection and keeps it, reading nothing, answering nothing.
SILENT = textwrap.dedent('''\
    import socket, sys
    s = socket.socket()
    s.bind(("", int(sys.argv[1])))
    s.listen()
    held = []
    while True:
        c, _ = s.accept()
        held.append(c)
    ''')


@pytest.fixture(autouse=True)
def isolated(playground_settings):
    """The real bubblewrap, as root (skipped here without it, failed on CI)."""
    with isolated_playground(playground_settings) as settings:
        yield settings


def files_in(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def silent_program(client, port: int) -> dict:
    sandbox = api_create(client, port, source=SILENT)
    folder = root_of(Sandbox.objects.get(pk=sandbox["id"]))
    (folder / "static").mkdir()
    (folder / "static" / "index.html").write_bytes(b"<p>my page</p>\n")
    response = api_post(client, sandbox["links"]["start"])
    assert response.status_code == 200 and response.json()["status"] == "running", \
        response.content
    return sandbox


def test_one_run_at_a_time_stop_cancels_and_the_files_go(client, free_port):
    sandbox = silent_program(client, free_port)
    folder = root_of(Sandbox.objects.get(pk=sandbox["id"]))
    before = files_in(folder)
    run = start_run(client, sandbox)
    # A second start while it runs: 409, and no second run.
    again = api_post(client, sandbox["links"]["checks"])
    assert again.status_code == 409, again.content
    assert again.json() == {"error": "checks are already running on this sandbox; wait "
                                     "for them or stop them"}
    assert client.get(sandbox["links"]["self"]).json()["checks"]["running"] is True
    # The generated files are in the program's static/ folder (what it serves), but
    # for stage 11's secret, which is put outside what it serves.
    generated = wait_until(lambda: set(files_in(folder)) - set(before), 10,
                           "the run's files to be written")
    served = {name for name in generated if not name.startswith("chk-secret")}
    assert served and all(name.startswith("static/") for name in served), generated
    # Stop: 202, at once; the current check ends, the rest are not run.
    stopped = api_post(client, run["links"]["stop"])
    assert stopped.status_code == 202, stopped.content
    run = finished(client, run)
    assert run["state"] == "stopped"
    assert run["message"] == "stopped: the remaining checks were not run"
    # The check under way (waiting for an answer that never comes, up to its 5 s) was
    # cut short, not reported; no other began.
    assert outcomes(run) == []
    assert {stage["state"] for stage in run["stages"]} == {"skipped"}
    # Stop again: still 202, nothing changes.
    assert api_post(client, run["links"]["stop"]).status_code == 202
    assert client.get(run["links"]["self"]).json() == run
    assert files_in(folder) == before
    assert not CheckPort.objects.exists()
    # A new run may begin now.
    second = start_run(client, sandbox, through=1)
    assert second["number"] == 2
    api_post(client, second["links"]["stop"])
    assert finished(client, second)["state"] == "stopped"


def test_a_run_left_by_an_ended_process_is_interrupted(client, free_port):
    """The process that ran it died (its thread with it): the row says interrupted when
    next looked at, and a new run may begin."""
    sandbox = silent_program(client, free_port)
    row = Sandbox.objects.get(pk=sandbox["id"])
    CheckRun.objects.create(sandbox=row, number=1, through=12, run_by="gone:1:1:dead")
    listed = client.get(sandbox["links"]["checks"]).json()
    assert listed["runs"][0]["state"] == "interrupted"
    assert listed["runs"][0]["message"] == \
        "interrupted: the playground process running the checks ended"
    run = start_run(client, sandbox, through=1)
    assert run["number"] == 2
    api_post(client, run["links"]["stop"])
    assert finished(client, run)["state"] == "stopped"


# Answers one request well, then dies with a traceback (the tutorial's server with a bug
# that shows on the second request, made certain).
CRASHES_AFTER_ONE = textwrap.dedent('''\
    import socket, sys
    s = socket.socket()
    s.bind(("", int(sys.argv[1])))
    s.listen()
    c, _ = s.accept()
    data = b""
    while b"\\r\\n\\r\\n" not in data:
        data += c.recv(65536)
    c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok")
    c.close()
    print("answered once")
    raise ValueError("the second request broke me")
    ''')


def test_a_program_that_crashes_mid_run_fails_with_its_traceback(client, free_port):
    sandbox = api_create(client, free_port, source=CRASHES_AFTER_ONE)
    assert api_post(client, sandbox["links"]["start"]).json()["status"] == "running"
    run = finished(client, start_run(client, sandbox, through=5))
    assert run["state"] == "failed"
    failed = [o for o in outcomes(run) if not o["passed"]]
    console = failed[0]["failure"]["console"]
    assert "ValueError: the second request broke me" in console, failed[0]
    assert "answered once" in console
    assert run["message"] == ("the server stopped during the checks; the checks after "
                              "that failed")


def test_a_stop_from_another_process_ends_the_run_after_its_check(client, free_port):
    """Another playground process cannot reach this one's thread: its Stop only sets
    ``stop_requested`` (runs.stop, with no run of its own to cancel), which the run
    reads after each check. Here: the check under way ends as it would have, is
    reported, and nothing after it runs."""
    sandbox = silent_program(client, free_port)
    folder = root_of(Sandbox.objects.get(pk=sandbox["id"]))
    before = files_in(folder)
    run = start_run(client, sandbox)
    wait_until(lambda: set(files_in(folder)) - set(before), 10, "the run's files")
    assert CheckRun.objects.filter(pk=run["id"]).update(stop_requested=True) == 1
    run = finished(client, run)
    assert run["state"] == "stopped"
    assert [o["label"] for o in outcomes(run)] == ["1.1"]
    assert files_in(folder) == before
