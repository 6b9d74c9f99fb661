"""Owners (issue 11, point 5): logging in carries the browser session's sandboxes into
the account, as a shop carries a cart; logging out closes the session's websockets;
deleting a sandbox anywhere, the admin and its bulk action included, stops its server
and removes its files. Real henaserver children throughout; the websocket test runs a
real daphne.

The old code: after login the list was empty while the servers ran on ("port 8123 is
already used by another sandbox"); the websocket stayed open after logout; a sandbox
deleted in the admin kept its server running and its files on disk.
"""

import sys
import urllib.request

import pytest
from django.contrib.auth.models import User
from django.test import Client
from testkit.playgrounds import REPO, Browser, Daphne, migrate, playground_env
from testkit.waiting import wait_until

from playground.files.storage import root_of
from playground.models import Sandbox

sys.path.insert(0, str(REPO / "bench"))
from wsclient import WebSocket  # noqa: E402  (bench's stdlib websocket client)

pytestmark = pytest.mark.django_db(transaction=True)  # on_commit clean-ups run


def _create(client: Client, port: int, name: str = "s") -> dict:
    response = client.post("/api/sandboxes/", {"name": name, "port": port},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def test_logging_in_carries_the_sessions_sandboxes_into_the_account(settings, free_ports,
                                                                     pid_gone):
    settings.PLAYGROUND_MAX_SANDBOXES_PER_OWNER = 2
    ports = free_ports(4)
    User.objects.create_user("alice", password="correct horse")
    owned_before = Client()
    owned_before.force_login(User.objects.get(username="alice"))
    _create(owned_before, ports[0], "from-the-account")

    browser = Client()  # an anonymous session with two sandboxes, one running
    first = _create(browser, ports[1], "first")
    second = _create(browser, ports[2], "second")
    running = browser.post(first["links"]["start"]).json()
    assert running["status"] == "running"

    done = browser.post("/accounts/login/", {"username": "alice",
                                             "password": "correct horse", "next": "/"})
    assert done.status_code == 302

    listed = {s["name"]: s for s in browser.get("/api/sandboxes/").json()["sandboxes"]}
    assert set(listed) == {"from-the-account", "first", "second"}  # the cart came along
    assert listed["first"]["status"] == "running" and listed["first"]["pid"] == running["pid"]
    assert {s.user.username for s in Sandbox.objects.all()} == {"alice"}
    # Over the quota now (3 of 2): nothing was left behind, but nothing new either.
    assert browser.post("/api/sandboxes/", {"name": "x", "port": ports[3]},
                        content_type="application/json").status_code == 400
    # The account reaches the carried server: Stop ends it.
    stopped = browser.post(first["links"]["stop"]).json()
    assert stopped["status"] == "stopped"
    assert pid_gone(running["pid"])
    assert browser.get(second["links"]["self"]).status_code == 200


def test_logging_out_closes_the_sessions_websockets(tmp_path, free_ports):
    sandbox_port, other_port, port = free_ports(3)
    env = playground_env(tmp_path, PLAYGROUND_PORT_RANGE="1024-65535")
    migrate(env)
    site = Daphne("A", env, tmp_path, port)
    sockets: list[WebSocket] = []
    try:
        leaving, staying = Browser(), Browser()
        sandbox = leaving.new_sandbox(site, "ws", sandbox_port)
        theirs = staying.new_sandbox(site, "stays", other_port)

        def websocket(browser: Browser, sandbox_id: int) -> WebSocket:
            ws = WebSocket("127.0.0.1", port, f"/ws/sandboxes/{sandbox_id}/", {
                "Origin": site.base, "Cookie": f"sessionid={browser.cookie('sessionid')}"})
            ws.sock.settimeout(15)
            sockets.append(ws)
            assert ws.recv() is not None  # the opening messages arrive: connected
            return ws

        ws = websocket(leaving, sandbox["id"])
        other = websocket(staying, theirs["id"])
        request = urllib.request.Request(site.base + "/accounts/logout/", data=b"",
                                         headers={"X-CSRFToken": leaving.cookie("csrftoken")})
        leaving.opener.open(request, timeout=10).read()  # redirected to the login page

        def closed() -> bool:
            """Reads the next frame: True at the close, False for a message. A read
            that times out fails (bench's ``recv()`` would take it for a close)."""
            try:
                opcode, _ = ws._read_frame()
            except EOFError:
                return True
            except TimeoutError:
                raise AssertionError("the websocket is still open after logout") from None
            return opcode == 0x8

        wait_until(closed, 15, "the websocket to close after logout", interval=0)

        # Another session's viewer is left alone: it still answers a ping.
        other.send('{"type": "ping", "id": 7}')

        def pong() -> bool:
            text = other.recv()
            assert text is not None, "another session's websocket was closed too"
            return '"pong"' in text

        wait_until(pong, 15, "the other session's pong", interval=0)
    finally:
        for ws in sockets:
            ws.close()
        site.close()


def _admin() -> Client:
    staff = Client()
    staff.force_login(User.objects.create_superuser("teacher", password="x"))
    return staff


def _running(client: Client, port: int, name: str) -> tuple[dict, Sandbox]:
    sandbox = _create(client, port, name)
    client.put(sandbox["links"]["files"] + "index.html", b"<h1>hi</h1>",
               content_type="text/html")
    started = client.post(sandbox["links"]["start"]).json()
    assert started["status"] == "running", started
    row = Sandbox.objects.get(pk=sandbox["id"])
    assert root_of(row).exists()
    return started, row


def test_deleting_in_the_admin_stops_the_server_and_removes_the_files(free_ports, pid_gone):
    ports = free_ports(3)
    learner = Client()
    one, one_row = _running(learner, ports[0], "one")
    staff = _admin()
    answer = staff.post(f"/admin/playground/sandbox/{one['id']}/delete/", {"post": "yes"})
    assert answer.status_code == 302
    assert pid_gone(one["pid"]), "the deleted sandbox's server still runs"
    assert not root_of(one_row).exists()

    # The bulk action ("Delete selected sandboxes") too.
    two, two_row = _running(learner, ports[1], "two")
    three, three_row = _running(learner, ports[2], "three")
    answer = staff.post("/admin/playground/sandbox/", {
        "action": "delete_selected", "_selected_action": [two["id"], three["id"]],
        "post": "yes"})
    assert answer.status_code == 302
    assert not Sandbox.objects.exists()
    for started, row in ((two, two_row), (three, three_row)):
        assert pid_gone(started["pid"]), "a bulk-deleted sandbox's server still runs"
        assert not root_of(row).exists()


def test_deleting_a_user_stops_their_sandboxes(free_port, pid_gone):
    alice = Client()
    user = User.objects.create_user("alice", password="x")
    alice.force_login(user)
    started, row = _running(alice, free_port, "hers")
    user.delete()  # cascades to her sandboxes
    assert pid_gone(started["pid"])
    assert not root_of(row).exists()
