"""Regression tests for the review's bugs: reconcile on every ownership lookup (the
websocket included), and an over-large body answered 413, not a logged 500."""

import os

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from playground import settings as playground_settings_module
from playground.asgi import application
from playground.models import Sandbox
from playground.sandboxes import runtime

ORIGIN = b"http://testserver"


def _create(client: Client, port: int) -> dict:
    response = client.post("/api/sandboxes/", {"name": "t", "port": port},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_websocket_after_a_restart_sees_the_sandbox_stopped(free_port, monkeypatch):
    channel_layers.backends = {}  # the in-memory layer belongs to one event loop
    client = Client()
    sandbox = await sync_to_async(_create)(client, free_port)
    # A row left "running" by a previous playground: its pid is not a child of ours.
    await sync_to_async(Sandbox.objects.filter(pk=sandbox["id"]).update)(
        status=Sandbox.Status.RUNNING, pid=os.getppid())
    # The playground restarted: this process has no Supervisor yet.
    monkeypatch.setattr(runtime, "_supervisor", None)
    headers = [(b"host", b"testserver"), (b"origin", ORIGIN),
               (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]
    comm = WebsocketCommunicator(application, f"/ws/sandboxes/{sandbox['id']}/",
                                 headers=headers)
    try:
        connected, _ = await comm.connect()
        assert connected
        while True:
            message = await comm.receive_json_from(10)
            if message["type"] == "status":
                break
        assert message["status"] == "stopped"
    finally:
        await comm.disconnect()
        if runtime._supervisor is not None:
            runtime._supervisor.stop_all()
        channel_layers.backends = {}


@pytest.mark.django_db
def test_a_json_body_over_the_upload_limit_is_413(client, free_port, settings):
    sandbox = _create(client, free_port)
    big = b'{"mode": "' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + b'"}'
    response = client.put(sandbox["links"]["mode"], big, content_type="application/json")
    assert response.status_code == 413
    assert "too large" in response.json()["error"]


@pytest.mark.django_db
def test_a_compose_body_over_the_upload_limit_is_413(client, free_port, settings):
    sandbox = _create(client, free_port)
    assert client.post(sandbox["links"]["start"]).status_code == 200
    big = b'{"request_b64": "' + b"A" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + b'"}'
    response = client.post(sandbox["links"]["compose"], big, content_type="application/json")
    assert response.status_code == 413
    assert "too large" in response.json()["error"]
    assert client.get(sandbox["links"]["compose"])["Allow"] == "POST"


def test_a_yes_no_setting_with_a_typo_is_refused(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_REQUIRE_LOGIN", "ture")
    with pytest.raises(ImproperlyConfigured):
        playground_settings_module._env_bool("PLAYGROUND_REQUIRE_LOGIN", False)
    monkeypatch.setenv("PLAYGROUND_REQUIRE_LOGIN", "off")
    assert playground_settings_module._env_bool("PLAYGROUND_REQUIRE_LOGIN", True) is False
