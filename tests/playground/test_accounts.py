"""Accounts for a shared playground (PLAYGROUND_REQUIRE_LOGIN): login everywhere, sandboxes
owned by users, per-user quotas, and staff who see and stop every sandbox in the admin."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from playground.models import Sandbox

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def login_required(settings):
    settings.PLAYGROUND_REQUIRE_LOGIN = True
    return settings


def _user_client(name: str, **extra) -> Client:
    client = Client()
    client.force_login(User.objects.create_user(name, password="pw-" + name, **extra))
    return client


def _create(client, port: int) -> dict:
    response = client.post("/api/sandboxes/", {"name": "s", "port": port},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def test_without_the_setting_no_login_is_needed(client, free_port):
    assert client.get("/").status_code == 200
    sandbox = _create(client, free_port)
    assert Sandbox.objects.get(pk=sandbox["id"]).user is None


def test_pages_redirect_to_the_login_page(client, login_required):
    for url in ("/", "/sandboxes/1/", "/sandboxes/1/traffic/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next={url}"
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert b'name="username"' in page.content and b"csrfmiddlewaretoken" in page.content


def test_the_api_answers_401_json_not_a_redirect(client, login_required):
    for method, url in (("get", "/api/sandboxes/"), ("post", "/api/sandboxes/"),
                        ("post", "/api/sandboxes/1/start/"), ("get", "/api/sandboxes/1/files/")):
        response = getattr(client, method)(url)
        assert response.status_code == 401, url
        assert "log in" in response.json()["error"]


def test_login_then_sandboxes_belong_to_the_user(login_required, free_port):
    User.objects.create_user("alice", password="correct horse")
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/accounts/login/")
    token = page.cookies["csrftoken"].value
    wrong = browser.post("/accounts/login/", {"username": "alice", "password": "nope",
                                              "csrfmiddlewaretoken": token})
    assert wrong.status_code == 200 and b"did not match" in wrong.content
    done = browser.post("/accounts/login/", {"username": "alice", "password": "correct horse",
                                             "csrfmiddlewaretoken": token, "next": "/"})
    assert done.status_code == 302 and done["Location"] == "/"
    token = browser.cookies["csrftoken"].value  # rotated on login
    created = browser.post("/api/sandboxes/", {"name": "s", "port": free_port},
                           content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert created.status_code == 201
    assert Sandbox.objects.get(pk=created.json()["id"]).user.username == "alice"
    # The same user in another browser sees it: ownership follows the account.
    again = Client()
    again.force_login(User.objects.get(username="alice"))
    assert [s["id"] for s in again.get("/api/sandboxes/").json()["sandboxes"]] == \
        [created.json()["id"]]


def test_per_user_sandbox_quota(login_required, settings, free_ports):
    ports = free_ports(2)
    settings.PLAYGROUND_MAX_SANDBOXES_PER_OWNER = 1
    alice, bob = _user_client("alice"), _user_client("bob")
    _create(alice, ports[0])
    refused = alice.post("/api/sandboxes/", {"name": "two", "port": ports[1]},
                         content_type="application/json")
    assert refused.status_code == 400 and "1 sandboxes, the limit" in refused.json()["error"]
    # Bob has his own quota.
    assert bob.post("/api/sandboxes/", {"name": "b", "port": ports[1]},
                    content_type="application/json").status_code == 201


def test_per_user_disk_quota_counts_all_their_sandboxes(login_required, settings, free_ports):
    ports = free_ports(3)
    settings.PLAYGROUND_MAX_OWNER_BYTES = 1500  # per sandbox stays 3000 (conftest)
    alice, bob = _user_client("alice"), _user_client("bob")
    first = _create(alice, ports[0])
    second = _create(alice, ports[1])
    assert alice.put(first["links"]["files"] + "a.bin", b"x" * 900,
                     content_type="application/octet-stream").status_code == 201
    refused = alice.put(second["links"]["files"] + "b.bin", b"x" * 700,
                        content_type="application/octet-stream")
    assert refused.status_code == 413
    assert "disk quota" in refused.json()["error"]
    assert alice.get(second["links"]["files"]).json()["files"] == []
    assert alice.put(second["links"]["files"] + "b.bin", b"x" * 500,
                     content_type="application/octet-stream").status_code == 201
    # Another user's quota is untouched by Alice's files.
    theirs = _create(bob, ports[2])
    assert bob.put(theirs["links"]["files"] + "c.bin", b"x" * 900,
                   content_type="application/octet-stream").status_code == 201


def test_anonymous_sessions_have_a_disk_quota_too(client, settings, free_ports):
    ports = free_ports(2)
    settings.PLAYGROUND_MAX_OWNER_BYTES = 1000
    first, second = _create(client, ports[0]), _create(client, ports[1])
    assert client.put(first["links"]["files"] + "a", b"x" * 800,
                      content_type="text/plain").status_code == 201
    assert client.put(second["links"]["files"] + "b", b"x" * 300,
                      content_type="text/plain").status_code == 413


def test_staff_see_every_sandbox_and_stop_any(login_required, free_ports, pid_gone):
    ports = free_ports(2)
    alice, bob = _user_client("alice"), _user_client("bob")
    a = _create(alice, ports[0])
    b = _create(bob, ports[1])
    started = alice.post(a["links"]["start"]).json()
    assert started["status"] == "running"
    staff = _user_client("teacher", is_staff=True, is_superuser=True)
    listing = staff.get("/admin/playground/sandbox/")
    assert listing.status_code == 200
    for sandbox, owner in ((a, b"alice"), (b, b"bob")):
        assert f"/admin/playground/sandbox/{sandbox['id']}/change/".encode() in listing.content
        assert owner in listing.content
    assert b"Stop selected sandboxes" in listing.content
    done = staff.post("/admin/playground/sandbox/", {
        "action": "stop_selected", "_selected_action": [a["id"], b["id"]]}, follow=True)
    assert b"1 sandbox(es) stopped." in done.content
    assert pid_gone(started["pid"])
    row = Sandbox.objects.get(pk=a["id"])
    assert row.status == "stopped" and "teacher" in row.message
    assert alice.get(a["links"]["self"]).json()["status"] == "stopped"


def test_the_admin_is_for_staff_only(login_required):
    student = _user_client("student")
    response = student.get("/admin/playground/sandbox/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
