"""The checks' JSON API around the runs (docs/api.md, "Check my server"): what it refuses
and how, who may see what, the stage list, and the sandbox JSON's summary. The runs
themselves, against real servers: test_runs*.py.

transaction=True: the supervisor's and the run's threads write to the database too.
"""

import pytest
from testkit.checkruns import LIST, finished, running_sandbox, start_run

from playground.checking.stages import STAGES

pytestmark = pytest.mark.django_db(transaction=True)


def create(client, port, **fields):
    response = client.post(LIST, {"name": "idle", "port": port, **fields},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.parametrize("body", [
    {"through": 0}, {"through": 13}, {"through": "3"}, {"through": True},
    {"through": 2.5}, {"through": None}, {"through": [3]},
])
def test_through_is_a_stage_number(client, free_port, body):
    sandbox = create(client, free_port)
    response = client.post(sandbox["links"]["checks"], body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json() == {"error": f"through must be a stage number from 1 to "
                                        f"{len(STAGES)}", "field": "through"}


def test_a_body_that_is_not_json_is_400(client, free_port):
    sandbox = create(client, free_port)
    response = client.post(sandbox["links"]["checks"], "{", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"error": "the request body is not valid JSON"}


def test_a_stopped_sandbox_is_409_and_no_run_is_kept(client, free_port):
    sandbox = create(client, free_port)
    response = client.post(sandbox["links"]["checks"], {}, content_type="application/json")
    assert response.status_code == 409
    assert response.json() == {"error": "the sandbox is not running: start it, then check it"}
    assert client.get(sandbox["links"]["checks"]).json()["runs"] == []


def test_the_refusal_in_japanese(client, free_port, compiled_translations):
    sandbox = create(client, free_port)
    response = client.post(sandbox["links"]["checks"], {"through": 99},
                           content_type="application/json", HTTP_ACCEPT_LANGUAGE="ja")
    assert response.status_code == 400
    assert response.json()["error"] == \
        f"through はステージ番号（1〜{len(STAGES)}）で指定してください"


def test_the_empty_list_has_every_stage(client, free_port):
    sandbox = create(client, free_port)
    data = client.get(sandbox["links"]["checks"]).json()
    assert (data["runs"], data["reached"], data["best"]) == ([], 0, 0)
    assert [s["number"] for s in data["stages"]] == list(range(1, len(STAGES) + 1))
    first = data["stages"][0]
    assert first["title"] == "Reads the whole request"
    assert first["rfc"][0] == {"label": "RFC 9112 §2.1",
                               "url": "https://www.rfc-editor.org/rfc/rfc9112#section-2.1"}
    assert [c["label"] for c in first["checks"]] == [
        f"1.{n}" for n in range(1, len(STAGES[0].checks) + 1)]


def test_stage_titles_in_japanese(client, free_port, compiled_translations):
    sandbox = create(client, free_port)
    data = client.get(sandbox["links"]["checks"], HTTP_ACCEPT_LANGUAGE="ja").json()
    for stage, shown in zip(STAGES, data["stages"], strict=True):
        assert shown["title"] and shown["title"] != stage.title, stage.title
        assert shown["summary"] != stage.summary


def test_the_sandbox_json_has_its_checks(client, free_port):
    sandbox = create(client, free_port)
    assert sandbox["links"]["checks"] == f"/api/sandboxes/{sandbox['id']}/checks/"
    assert sandbox["checks"] == {"reached": 0, "best": 0, "running": False,
                                 "url": sandbox["links"]["checks"]}


def test_another_owners_sandbox_and_runs_are_404(client, other_client, free_port):
    sandbox = running_sandbox(client, free_port)
    run = finished(client, start_run(client, sandbox, through=1))
    refused = [other_client.get(sandbox["links"]["checks"]),
               other_client.post(sandbox["links"]["checks"], {},
                                 content_type="application/json"),
               other_client.get(run["links"]["self"]),
               other_client.post(run["links"]["stop"], {}, content_type="application/json")]
    for response in refused:
        assert response.status_code == 404, response.content
        assert response.json()["error"].startswith("no such sandbox")
    # Nothing changed for the owner: no second run, the first one as it was.
    data = client.get(sandbox["links"]["checks"]).json()
    assert [r["number"] for r in data["runs"]] == [1]
    assert data["runs"][0]["state"] == run["state"]


def test_unknown_runs_and_wrong_methods(client, free_port):
    sandbox = create(client, free_port)
    checks = sandbox["links"]["checks"]
    assert client.get(f"{checks}7/").status_code == 404
    assert client.post(f"{checks}7/stop/", {}, content_type="application/json") \
        .status_code == 404
    assert client.delete(checks).status_code == 405
    assert client.get(f"{checks}7/stop/").status_code == 405
    assert client.get("/api/sandboxes/999999/checks/").status_code == 404


def test_a_run_whose_thread_died_in_this_process_is_interrupted(client, free_port):
    """A run of this (living) process with no thread left for it (its thread died, e.g.
    on a database error while writing its end) must not stay "running" forever, nor
    refuse every new run with 409: it is interrupted when next looked at."""
    from playground.models import CheckRun, Sandbox
    from playground.sandboxes import heartbeat

    sandbox = running_sandbox(client, free_port)
    CheckRun.objects.create(sandbox=Sandbox.objects.get(pk=sandbox["id"]), number=1,
                            through=1, run_by=heartbeat.me())
    listed = client.get(sandbox["links"]["checks"]).json()
    assert listed["runs"][0]["state"] == "interrupted"
    run = finished(client, start_run(client, sandbox, through=1))
    assert (run["number"], run["state"]) == (2, "passed")
