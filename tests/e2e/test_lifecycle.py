"""Children never outlive the playground: Ctrl+C, an autoreload or `kill -9` of the
real `manage.py runserver` leaves no henaserver behind, and the database is reconciled
so that one click starts the sandbox again."""

import os
import signal
import socket
import time

import pytest


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


def test_autoreload_stops_children_and_the_database_is_reconciled(playground_factory, pid_gone):
    site = playground_factory(reload=True)
    api = site.api()
    sb = start_sandbox(api)
    serving = site.serving_pid()

    later = time.time() + 5
    os.utime(site.settings_file, (later, later))  # a code change: the reloader restarts
    assert pid_gone(sb["pid"], timeout=20), f"henaserver survived a reload:\n{site.output()}"
    assert pid_gone(serving, timeout=20)
    site.wait_until_up()

    status, after = api.call("GET", sb["links"]["self"])
    assert status == 200  # the same browser session still owns it
    assert after["status"] == "stopped"
    assert after["message"] == "stopped: the playground restarted"

    status, again = api.call("POST", sb["links"]["start"])  # one click starts it again
    assert status == 200 and again["status"] == "running" and again["pid"] != sb["pid"]


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
