"""Check runs against real henaserver sandboxes, started through the playground's own
lifecycle and API (issue 14 points 2, 3, 5 and 6): a full-mode server passes, every
request a check sent is an exchange labelled with its check, the generated files go
after the run and the learner's stay, progress is kept, a once-mode server that exits
mid-run gives a failed check carrying its console, and the run ends.

transaction=True: the supervisor's, ingest's and the run's threads write too.
"""

import pytest
from testkit.checkruns import finished, outcomes, running_sandbox, start_run

from playground.checking.stages import STAGES
from playground.files.storage import root_of
from playground.models import CheckPort, CheckRun, Exchange, Sandbox

pytestmark = pytest.mark.django_db(transaction=True)

USER_FILES = {"index.html": b"<h1>mine</h1>\n", "notes/todo.txt": b"keep me\n"}


def files_in(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_full_mode_passes_every_stage_and_labels_its_exchanges(client, free_port):
    sandbox = running_sandbox(client, free_port)
    folder = root_of(Sandbox.objects.get(pk=sandbox["id"]))
    for name, data in USER_FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    started = start_run(client, sandbox)
    assert (started["number"], started["state"], started["through"]) == (1, "running", 12)
    run = finished(client, started)
    assert run["state"] == "passed", [(o["label"], o["failure"]) for o in outcomes(run)
                                      if not o["passed"]]
    assert run["reached"] == run["best"] == len(STAGES)
    assert run["ended_at"] and run["message"] is None
    assert [s["state"] for s in run["stages"]] == ["passed"] * len(STAGES)
    every = outcomes(run)
    assert len(every) == sum(len(stage.checks) for stage in STAGES)
    # Every request a check sent is an exchange of the traffic, labelled with the
    # check: in the summaries the page and the API show.
    listed = client.get(sandbox["links"]["exchanges"] + "?limit=200").json()
    assert not listed["more"]
    listed = listed["exchanges"]
    label_of = {item["seq"]: item["check"] for item in listed}
    by_label = {o["label"]: o for o in every}
    assert listed and set(label_of.values()) <= set(by_label)  # None: unlabelled
    for seq, label in label_of.items():  # each in the check that sent it
        assert seq in by_label[label]["exchanges"], (seq, label)
    for outcome in every:  # a check may judge an exchange an earlier check sent
        assert outcome["exchanges"], f"check {outcome['label']} found no exchange"
        assert {label_of[seq] for seq in outcome["exchanges"]} <= set(by_label)
    # The generated files are gone, the learner's are as they were; so are the ports.
    assert files_in(folder) == USER_FILES
    assert not CheckPort.objects.exists()


def test_progress_is_kept_per_run_with_the_best(client, free_port):
    sandbox = running_sandbox(client, free_port, mode="no-content-type")
    first = finished(client, start_run(client, sandbox, through=6))
    assert (first["state"], first["reached"], first["best"]) == ("failed", 5, 5)
    assert [s["state"] for s in first["stages"]][:7] == [
        "passed"] * 5 + ["failed", "skipped"]
    second = finished(client, start_run(client, sandbox, through=2))
    assert (second["number"], second["state"], second["reached"], second["best"]) == \
        (2, "passed", 2, 5)
    listed = client.get(sandbox["links"]["checks"]).json()
    assert [r["number"] for r in listed["runs"]] == [2, 1]
    assert (listed["reached"], listed["best"]) == (2, 5)
    # The newest in full, the older in brief (fifty full runs made megabytes, read by
    # every load of the page): an older run's outcomes are one GET away.
    assert "stages" in listed["runs"][0] and "stages" not in listed["runs"][1]
    assert listed["runs"][1] == {key: value for key, value in first.items()
                                 if key != "stages"}
    older = client.get(listed["runs"][1]["links"]["self"]).json()
    assert older == first
    failed = [c for c in older["stages"][5]["checks"] if not c["passed"]]
    assert failed[0]["failure"]["message"] and failed[0]["failure"]["expected"]
    shown = client.get(sandbox["links"]["self"]).json()["checks"]
    assert (shown["reached"], shown["best"], shown["running"]) == (2, 5, False)


def test_once_mode_exits_mid_run_and_the_failure_carries_its_console(client, free_port):
    sandbox = running_sandbox(client, free_port, mode="once")
    run = finished(client, start_run(client, sandbox))
    assert run["state"] == "failed"
    assert run["reached"] == 3
    failed = [o for o in outcomes(run) if not o["passed"]]
    assert failed[0]["label"].startswith("4.")
    # The server's last words: its access log line for the one request it answered.
    assert "GET" in failed[0]["failure"]["console"], failed[0]["failure"]
    assert run["message"] == ("the server stopped during the checks; the checks after "
                              "that failed")
    # Every stage asked for was checked (a failed stage does not stop the later ones),
    # and the run ended: nothing is left running.
    assert all(s["state"] in ("passed", "failed") for s in run["stages"])
    assert client.get(sandbox["links"]["self"]).json()["checks"]["running"] is False


def test_exchanges_keep_their_label_in_the_database(client, free_port):
    sandbox = running_sandbox(client, free_port)
    run = finished(client, start_run(client, sandbox, through=1))
    labels = set(Exchange.objects.filter(sandbox_id=sandbox["id"])
                 .values_list("check_label", flat=True))
    assert labels == {o["label"] for o in outcomes(run)}


def test_the_newest_runs_are_kept_and_the_best_one(client, free_port, monkeypatch):
    from playground.checking import runs

    monkeypatch.setattr(runs, "KEEP_RUNS", 3)
    sandbox = running_sandbox(client, free_port)
    row = Sandbox.objects.get(pk=sandbox["id"])
    for number, reached in [(1, 1), (2, 6), (3, 2), (4, 0)]:
        CheckRun.objects.create(sandbox=row, number=number, through=6, reached=reached,
                                state="failed", run_by="old")
    run = finished(client, start_run(client, sandbox, through=1))
    listed = client.get(sandbox["links"]["checks"]).json()
    # The newest three (3, 4, 5) and the best (2); run 1 is gone.
    assert [r["number"] for r in listed["runs"]] == [5, 4, 3, 2]
    assert (listed["reached"], listed["best"], run["best"]) == (1, 6, 6)


def test_runs_belong_to_the_sandboxes_owner_and_move_with_it_at_login(client, free_port):
    from django.contrib.auth import get_user_model

    sandbox = running_sandbox(client, free_port)
    finished(client, start_run(client, sandbox, through=1))
    row = CheckRun.objects.get()
    token = Sandbox.objects.get(pk=sandbox["id"]).owner_token
    assert (row.user, row.owner_token) == (None, token) and token
    get_user_model().objects.create_user("alice", password="correct horse")
    done = client.post("/accounts/login/", {"username": "alice", "password": "correct horse",
                                            "next": "/"})
    assert done.status_code == 302
    row.refresh_from_db()
    assert (row.user.username, row.owner_token) == ("alice", "")
    # The account sees the progress kept before it logged in.
    assert client.get(sandbox["links"]["checks"]).json()["best"] == 1


def test_a_run_cut_short_by_the_process_ending_is_interrupted(client, free_port,
                                                              monkeypatch):
    """At exit (Ctrl+C, SIGTERM, the autoreloader) the runs are cancelled so that they
    remove their files (runs._cancel_all, atexit): nobody pressed Stop, so the run says
    its process ended, as a run found later without its process does."""
    import threading

    from playground.checking import runs

    monkeypatch.setattr(runs, "_exiting", threading.Event())  # this "exit" only
    sandbox = running_sandbox(client, free_port)
    folder = root_of(Sandbox.objects.get(pk=sandbox["id"]))
    before = files_in(folder)
    started = start_run(client, sandbox)
    runs._cancel_all()
    run = finished(client, started)
    assert run["state"] == "interrupted"
    assert run["message"] == "interrupted: the playground process running the checks ended"
    assert files_in(folder) == before
