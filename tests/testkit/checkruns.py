""""Check my server" through the playground's JSON API (tests/playground/checking):
a running henaserver sandbox in a mode, a run started, and its end awaited."""

from __future__ import annotations

from typing import Any

LIST = "/api/sandboxes/"


def running_sandbox(client: Any, port: int, mode: str = "full", **fields: Any) -> dict:
    """A henaserver sandbox in ``mode``, created and started through the API."""
    response = client.post(LIST, {"name": "checked", "port": port, "mode": mode, **fields},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    sandbox = response.json()
    response = client.post(sandbox["links"]["start"])
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "running", response.json()
    return response.json()


def start_run(client: Any, sandbox: dict, through: int | None = None, **headers: Any
              ) -> dict:
    """POST .../checks/ (202): the new run's RUN_JSON."""
    body = {} if through is None else {"through": through}
    response = client.post(sandbox["links"]["checks"], body,
                           content_type="application/json", **headers)
    assert response.status_code == 202, response.content
    return response.json()


def finished(client: Any, run: dict, timeout: float = 240.0, **headers: Any) -> dict:
    """The run's RUN_JSON once its thread (in this process) has ended. The bound is
    generous: twelve stages of at most 15 s each, on a loaded machine."""
    from playground.checking import runs

    assert runs.wait(run["id"], timeout), f"check run {run['number']} did not end"
    response = client.get(run["links"]["self"], **headers)
    assert response.status_code == 200, response.content
    return response.json()


def outcomes(run: dict) -> list[dict]:
    """Every Outcome JSON of a RUN_JSON, in stage order."""
    return [check for stage in run["stages"] for check in stage["checks"]]


def viewer(client: Any, sandbox_id: int, language: str = "en") -> Any:
    """A WebsocketCommunicator on the sandbox's traffic websocket, as the owner's
    browser (``client``'s session) in ``language``, against the real ASGI app."""
    from channels.testing import WebsocketCommunicator

    from playground.asgi import application

    headers = [(b"host", b"testserver"), (b"origin", b"http://testserver"),
               (b"accept-language", language.encode())]
    session = client.cookies.get("sessionid")
    if session is not None:
        headers.append((b"cookie", f"sessionid={session.value}".encode()))
    return WebsocketCommunicator(application, f"/ws/sandboxes/{sandbox_id}/",
                                 headers=headers)


async def next_checks(comm: Any, timeout: float = 30.0) -> dict:
    """The next ``checks`` message's run (other messages are skipped)."""
    while True:
        message = await comm.receive_json_from(timeout)
        if message["type"] == "checks":
            return message["run"]
