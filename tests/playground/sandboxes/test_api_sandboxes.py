"""The sandbox endpoints of the JSON API, with real henaserver children.

transaction=True: the supervisor's threads write to the database too, which they could
not do while a test transaction held SQLite's write lock.
"""

import json
import os
import signal
import socket
import urllib.request

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from testkit.waiting import wait_until

from playground.files.storage import root_of
from playground.models import Sandbox
from playground.sandboxes import runtime

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/api/sandboxes/"


def create(client, port, name="site"):
    return client.post(LIST, {"name": name, "port": port}, content_type="application/json")


def post(client, url, data=None):
    return client.post(url, data or {}, content_type="application/json")


def wait_status(client, sandbox_id, status, timeout=5.0):
    last = {}

    def reached():
        last["data"] = data = client.get(f"{LIST}{sandbox_id}/").json()
        return data if data["status"] == status else None

    return wait_until(reached, timeout, f"the sandbox to become {status}", interval=0.05,
                      explain=lambda: f"it is: {last['data']}")


def test_create_list_get_delete(client, free_port):
    response = create(client, free_port, "my site")
    assert response.status_code == 201
    sb = response.json()
    assert {k: sb[k] for k in ("name", "port", "status", "pid")} == {
        "name": "my site", "port": free_port, "status": "stopped", "pid": None}
    assert sb["url"] == f"http://testserver:{free_port}/"

    assert [s["id"] for s in client.get(LIST).json()["sandboxes"]] == [sb["id"]]
    assert client.get(f"{LIST}{sb['id']}/").json()["name"] == "my site"

    response = client.delete(f"{LIST}{sb['id']}/")
    assert response.status_code == 200
    assert client.get(LIST).json()["sandboxes"] == []
    assert client.get(f"{LIST}{sb['id']}/").status_code == 404


def test_start_runs_a_real_server_then_stop(client, free_port):
    site_index = b"<h1>hi</h1>"
    sb = create(client, free_port).json()
    root = root_of(Sandbox.objects.get(pk=sb["id"]))
    (root / "index.html").write_bytes(site_index)

    response = post(client, sb["links"]["start"])
    assert response.status_code == 200
    running = response.json()
    assert running["status"] == "running"
    assert isinstance(running["pid"], int)
    with urllib.request.urlopen(f"http://127.0.0.1:{free_port}/", timeout=5) as page:
        assert page.read() == site_index
    # The request counter comes from the child's `server.stats` events.
    wait_until(lambda: client.get(sb["links"]["self"]).json()["requests"] >= 1, 5,
               "the request count to be updated", interval=0.1)
    assert client.get(sb["links"]["self"]).json()["uptime_seconds"] >= 0

    assert post(client, sb["links"]["start"]).json()["pid"] == running["pid"]  # idempotent
    restarted = post(client, sb["links"]["restart"]).json()
    assert restarted["status"] == "running" and restarted["pid"] != running["pid"]

    stopped = post(client, sb["links"]["stop"]).json()
    assert stopped["status"] == "stopped" and stopped["pid"] is None
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{free_port}/", timeout=2)


@pytest.mark.parametrize("port,message", [
    (80, "port 80 is the playground's own port"),       # the test client's port
    (70000, "outside the allowed range 1-65535"),
    ("eighty", "whole number"),
    (None, "whole number"),
    (True, "whole number"),
])
def test_bad_ports_are_400_with_a_message(client, settings, port, message):
    settings.PLAYGROUND_PORT_RANGE = (1, 65535)
    response = create(client, port)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert response.json()["field"] == "port"


def test_port_outside_the_configured_range(client, settings):
    settings.PLAYGROUND_PORT_RANGE = (8000, 8999)
    response = create(client, 9000)
    assert response.status_code == 400
    assert response.json()["error"] == "port 9000 is outside the allowed range 8000-8999"


def test_port_used_by_another_sandbox(client, other_client, free_port):
    create(client, free_port, "first")
    mine = create(client, free_port, "second")
    assert mine.status_code == 400
    assert mine.json()["error"] == f'port {free_port} is already used by your sandbox "first"'
    theirs = create(other_client, free_port)
    assert theirs.status_code == 400
    assert theirs.json()["error"] == f"port {free_port} is already used by another sandbox"


def test_port_used_by_another_program(client):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        response = create(client, port)
    assert response.status_code == 400
    assert f"port {port} is already used by another program" in response.json()["error"]


def test_port_taken_between_create_and_start(client, free_port):
    sb = create(client, free_port).json()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port))
        taken.listen()
        response = post(client, sb["links"]["start"])
    assert response.status_code == 409
    assert response.json()["error"] == f"port {free_port} is already used by another program"
    after = client.get(sb["links"]["self"]).json()
    assert after["status"] == "stopped"
    assert after["exit_code"] == 2
    assert after["message"] == response.json()["error"]
    assert any("in use" in line for line in after["stderr_tail"])


def test_quota(client, settings, free_ports):
    settings.PLAYGROUND_MAX_SANDBOXES_PER_OWNER = 2
    ports = free_ports(3)
    assert create(client, ports[0]).status_code == 201
    assert create(client, ports[1]).status_code == 201
    response = create(client, ports[2])
    assert response.status_code == 400
    assert "you already have 2 sandboxes, the limit" in response.json()["error"]


def test_crash_is_shown_with_exit_code_and_one_click_restarts(client, free_port):
    sb = create(client, free_port).json()
    pid = post(client, sb["links"]["start"]).json()["pid"]
    os.kill(pid, signal.SIGKILL)

    crashed = wait_status(client, sb["id"], "crashed")
    assert crashed["exit_code"] == -9
    assert "SIGKILL" in crashed["message"]
    assert crashed["pid"] is None

    again = post(client, sb["links"]["start"]).json()
    assert again["status"] == "running" and again["exit_code"] is None


def test_reconcile_marks_rows_without_a_live_child_stopped(client, free_port):
    sup = runtime.supervisor()
    live = create(client, free_port, "live").json()
    post(client, live["links"]["start"])
    ghost = Sandbox.objects.create(name="ghost", port=1, owner_token="x",
                                   status=Sandbox.Status.RUNNING, pid=999_999)

    assert runtime.reconcile(sup) == 1
    ghost.refresh_from_db()
    assert ghost.status == "stopped" and ghost.pid is None
    assert ghost.message == "stopped: the playground restarted"
    assert Sandbox.objects.get(pk=live["id"]).status == "running"


def test_bad_json_wrong_method_and_unknown_ids(client):
    bad = client.post(LIST, "{not json", content_type="application/json")
    assert bad.status_code == 400
    assert bad.json() == {"error": "the request body is not valid JSON"}
    assert client.post(LIST, "[1]", content_type="application/json").status_code == 400

    wrong = client.put(LIST)
    assert wrong.status_code == 405
    assert wrong["Allow"] == "GET, POST"
    assert "PUT is not allowed" in wrong.json()["error"]
    assert client.get(f"{LIST}1/start/").status_code == 405

    missing = client.get(f"{LIST}12345/")
    assert missing.status_code == 404
    assert "error" in missing.json()


def test_missing_name(client, free_port):
    response = client.post(LIST, {"port": free_port}, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"error": "give the sandbox a name", "field": "name"}


def test_every_endpoint_is_404_for_another_session(client, other_client, free_port):
    sb = create(client, free_port).json()
    files = sb["links"]["files"]
    client.put(files + "index.html", b"mine", content_type="text/html")
    calls = [
        ("get", sb["links"]["self"]), ("delete", sb["links"]["self"]),
        ("post", sb["links"]["start"]), ("post", sb["links"]["stop"]),
        ("post", sb["links"]["restart"]), ("post", sb["links"]["starter"]),
        ("get", files), ("post", files),
        ("get", files + "index.html"), ("put", files + "index.html"),
        ("delete", files + "index.html"),
        ("get", sb["links"]["page"]),
    ]
    for method, url in calls:
        response = getattr(other_client, method)(url)
        assert response.status_code == 404, (method, url)

    assert other_client.get(LIST).json()["sandboxes"] == []
    # Nothing of the owner's was touched.
    assert client.get(files + "index.html").getvalue() == b"mine"
    assert client.get(sb["links"]["self"]).json()["status"] == "stopped"


def test_logged_in_users_own_their_sandboxes(free_port):
    users = get_user_model().objects
    alice, bob = Client(), Client()
    alice.force_login(users.create_user("alice", password="x"))
    bob.force_login(users.create_user("bob", password="x"))
    sb = create(alice, free_port).json()
    assert Sandbox.objects.get(pk=sb["id"]).user.username == "alice"
    assert bob.get(sb["links"]["self"]).status_code == 404
    assert alice.get(sb["links"]["self"]).status_code == 200


def test_csrf_token_header_is_required(free_port):
    browser = Client(enforce_csrf_checks=True)
    refused = browser.post(LIST, json.dumps({"name": "a", "port": free_port}),
                           content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]

    browser.get("/")  # the home page sets the csrftoken cookie
    token = browser.cookies["csrftoken"].value
    accepted = browser.post(LIST, json.dumps({"name": "a", "port": free_port}),
                            content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201
