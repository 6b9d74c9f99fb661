"""Children never outlive the playground: Ctrl+C or `kill -9` of the real `manage.py
runserver` leaves no henaserver behind, and the database is reconciled so that one
click starts the sandbox again. An autoreload (an edit) stops them too, and the new
worker starts them again on their ports, with their history (issue 11, point 6)."""

import os
import signal
import socket
import time
import urllib.error
import urllib.request

import pytest
from testkit.waiting import wait_until


def start_sandbox(api) -> dict:
    port = api.call("GET", "/api/sandboxes/?suggest=1")[1]["suggested_port"]
    status, sb = api.call("POST", "/api/sandboxes/", {"name": "life", "port": port})
    assert status == 201, sb
    status, sb = api.call("POST", sb["links"]["start"])
    assert status == 200 and sb["status"] == "running", sb
    return sb


@pytest.mark.parametrize("how", ["ctrl_c", "kill_9"])
def test_no_henaserver_survives_the_playground(playground_factory, how, pid_gone):
    site = playground_factory(reload=True)
    sb = start_sandbox(site.api())
    if how == "ctrl_c":
        os.killpg(site.proc.pid, signal.SIGINT)  # what the terminal sends to the group
    else:
        os.kill(site.serving_pid(), signal.SIGKILL)
    assert pid_gone(sb["pid"], timeout=10), f"henaserver {sb['pid']} survived:\n{site.output()}"
    site.proc.wait(15)


def test_an_edit_under_autoreload_resumes_the_running_sandboxes(playground_factory,
                                                                  pid_gone):
    """The old code stopped them ("stopped: the playground restarted"): the learner had
    to press Start again, and lost the traffic."""
    site = playground_factory(reload=True)
    api = site.api()
    sb = start_sandbox(api)
    port = api.call("GET", "/api/sandboxes/?suggest=1")[1]["suggested_port"]
    status, stopped = api.call("POST", "/api/sandboxes/", {"name": "idle", "port": port})
    assert status == 201, stopped  # not running at the reload: stays stopped
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sb['port']}/before-the-edit", timeout=5)
    except urllib.error.HTTPError as err:  # a 404: an exchange all the same
        err.read()

    def recorded() -> list:
        items = api.call("GET", sb["links"]["exchanges"])[1]["exchanges"]
        return [x for x in items if x["target"] == "/before-the-edit"]

    wait_until(recorded, 15, "the exchange to be recorded")
    serving = site.serving_pid()

    later = time.time() + 5
    os.utime(site.settings_file, (later, later))  # a code change: the reloader restarts
    assert pid_gone(sb["pid"], timeout=20), f"henaserver survived a reload:\n{site.output()}"
    assert pid_gone(serving, timeout=20)

    def resumed() -> dict | None:  # no request needed: the new worker resumes at start
        try:
            with socket.create_connection(("127.0.0.1", sb["port"]), timeout=2):
                return {"answers": True}
        except OSError:
            return None

    wait_until(resumed, 30, "the sandbox's port to answer again", explain=site.output)

    def settled() -> dict | None:  # the port answers a moment before the row says so
        status, row = api.call("GET", sb["links"]["self"])
        assert status == 200  # the same browser session still owns it
        return row if row["status"] != "starting" else None

    after = wait_until(settled, 15, "the resumed start to be recorded", explain=site.output)
    assert after["status"] == "running" and after["pid"] not in (None, sb["pid"]), after
    assert after["port"] == sb["port"]
    assert recorded(), "the history before the edit is gone"
    assert api.call("GET", stopped["links"]["self"])[1]["status"] == "stopped"

    # Ctrl+C is not an edit: nothing comes back by surprise on the next start.
    os.killpg(site.proc.pid, signal.SIGINT)
    site.proc.wait(15)
    assert pid_gone(after["pid"], timeout=10)


def test_oversized_upload_is_refused_before_the_body_is_read(shared_playground):
    """Against daphne itself: the 413 comes back although no body byte was sent."""
    site = shared_playground
    with socket.create_connection(("127.0.0.1", site.port), timeout=10) as sock:
        sock.sendall(b"POST /api/sandboxes/1/files/ HTTP/1.1\r\nHost: localhost\r\n"
                     b"Content-Type: multipart/form-data; boundary=x\r\n"
                     b"Content-Length: 10000000000\r\n\r\n")
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 413")
    assert b"too large" in reply
