"""Hardened children: each sandbox's real henaserver process caps its own resources, runs
with a clean environment, and the host runs at most PLAYGROUND_MAX_RUNNING_SANDBOXES."""

import os
import urllib.error
import urllib.request

import pytest
from django.test import Client

from playground.sandboxes.supervisor import child_environment

pytestmark = pytest.mark.django_db(transaction=True)

SECRETS = {
    "DJANGO_SECRET_KEY": "test-secret-key-that-must-not-leak",
    "SECRET_KEY": "another-secret-that-must-not-leak",
    "DATABASE_URL": "postgres://user:hunter2@db.example/playground",
    "REDIS_URL": "redis://:hunter3@redis.example:6379/0",
}


def _start(client, port: int) -> dict:
    sandbox = client.post("/api/sandboxes/", {"name": "h", "port": port},
                          content_type="application/json").json()
    response = client.post(sandbox["links"]["start"])
    assert response.status_code == 200, response.content
    return response.json()


def _limits(pid: int) -> dict[str, str]:
    """/proc/<pid>/limits as {"Max open files": "256", ...} (the soft limit column)."""
    out = {}
    with open(f"/proc/{pid}/limits") as f:
        next(f)
        for line in f:
            name, soft = line[:26].strip(), line[26:47].strip()
            out[name] = soft
    return out


def test_the_child_caps_its_own_resources(client, free_port):
    sandbox = _start(client, free_port)
    limits = _limits(sandbox["pid"])
    assert limits["Max open files"] == "256"
    assert limits["Max address space"] == str(512 * 1024 * 1024)
    assert limits["Max cpu time"] == "3600"
    with open(f"/proc/{sandbox['pid']}/cmdline", "rb") as f:
        args = f.read().split(b"\0")
    # Fewer connections than files: each may hold a socket and a file being sent.
    assert args[args.index(b"--max-connections") + 1] == b"128"
    # Still a working server under those limits.
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{free_port}/", timeout=5)
    except urllib.error.HTTPError as err:
        assert err.code == 404  # an empty site: a real answer


def test_limits_follow_the_settings(settings):
    from playground.sandboxes import runtime

    settings.PLAYGROUND_CHILD_FILES = 64
    settings.PLAYGROUND_CHILD_MEMORY_MB = 0
    settings.PLAYGROUND_CHILD_CPU_SECONDS = 0
    assert runtime.child_limit_args() == ("--limit-files", "64", "--max-connections", "32")


def test_the_child_environment_holds_no_playground_secrets(client, free_port, monkeypatch,
                                                          settings):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    sandbox = _start(client, free_port)
    with open(f"/proc/{sandbox['pid']}/environ", "rb") as f:
        environ = dict(item.split(b"=", 1) for item in f.read().split(b"\0") if item)
    for name, value in SECRETS.items():
        assert name.encode() not in environ
        assert not any(value.encode() in v for v in environ.values())
    assert set(environ) == {k.encode() for k in child_environment("x")}
    root = settings.PLAYGROUND_DATA_DIR / "sandboxes" / str(sandbox["id"])
    assert environ[b"HOME"] == str(root).encode()


def test_the_host_runs_a_bounded_number_of_sandboxes(client, free_ports, settings):
    settings.PLAYGROUND_MAX_RUNNING_SANDBOXES = 1
    ports = free_ports(2)
    _start(client, ports[0])
    other = Client()
    sandbox = other.post("/api/sandboxes/", {"name": "late", "port": ports[1]},
                         content_type="application/json").json()
    refused = other.post(sandbox["links"]["start"])
    assert refused.status_code == 503
    assert "as many as this computer allows" in refused.json()["error"]
    after = other.get(sandbox["links"]["self"]).json()
    assert after["status"] == "stopped" and after["pid"] is None
    # Restarting one's own running sandbox does not count against the bound.
    own = client.get("/api/sandboxes/").json()["sandboxes"][0]
    assert client.post(own["links"]["restart"]).status_code == 200


def test_supervisor_never_passes_os_environ(monkeypatch):
    monkeypatch.setenv("DJANGO_SECRET_KEY", "nope")
    env = child_environment("/tmp/x")
    assert "DJANGO_SECRET_KEY" not in env and env["HOME"] == "/tmp/x"
    assert os.environ["DJANGO_SECRET_KEY"] == "nope"
