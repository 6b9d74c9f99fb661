"""The program kind over the JSON API (docs/api.md "Program sandboxes"): create with a
source or a starter, read and replace the program, the refusals, and the policy without
isolation (issue 13 points 1 and 5). Starting one is test_program_api_run.py.

transaction=True: writing files takes the owner's quota lock (a transaction), as in
test_api_sandboxes.py.
"""

import os

import pytest
from django.contrib.auth import get_user_model
from django.core import management
from django.db import connection
from django.utils import timezone

from playground.files.storage import root_of
from playground.models import Sandbox
from playground.sandboxes import boot, program_kind, starters

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/api/sandboxes/"
LOOP = 'import os\nprint("listening on", os.environ["PORT"])\n'


def create(client, port, headers=None, **fields):
    return client.post(LIST, {"name": "mine", "port": port, **fields},
                       content_type="application/json", **(headers or {}))


def create_program(client, port, headers=None, **fields):
    return client.post(LIST, {"name": "mine", "port": port, "kind": "program", **fields},
                       content_type="application/json", **(headers or {}))


def put(client, url, data, **headers):
    return client.put(url, data, content_type="application/json", **headers)


def files_of(sandbox_json) -> dict[str, bytes]:
    root = root_of(Sandbox.objects.get(pk=sandbox_json["id"]))
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def roomy(settings):
    """Room for the starters (the package's conftest keeps files tiny)."""
    settings.PLAYGROUND_MAX_FILE_BYTES = settings.PLAYGROUND_MAX_SANDBOX_BYTES = 10**6
    settings.PLAYGROUND_MAX_FILES = 20
    return settings


@pytest.fixture
def no_bwrap(settings, tmp_path):
    """A playground whose bubblewrap is missing: programs would run unisolated."""
    settings.PLAYGROUND_BWRAP = str(tmp_path / "no-such-bwrap")
    return settings


# ----- create ------------------------------------------------------------------------------


def test_create_a_program_from_source(client, free_port):
    response = create_program(client, free_port, source=LOOP)
    assert response.status_code == 201, response.content
    sb = response.json()
    assert {k: sb[k] for k in ("kind", "main_file", "starter", "mode", "status",
                               "program_error", "isolation")} == {
        "kind": "program", "main_file": "main.py", "starter": "", "mode": "program",
        "status": "stopped", "program_error": None, "isolation": None}
    # The program's own link; henaserver's mode and rules are not a program's.
    assert sb["links"]["program"] == f"{LIST}{sb['id']}/program/"
    assert "mode" not in sb["links"] and "rules" not in sb["links"]
    assert files_of(sb) == {"main.py": LOOP.encode()}
    row = Sandbox.objects.get(pk=sb["id"])
    assert (row.kind, row.main_file, row.mode) == ("program", "main.py", "program")


def test_create_with_another_main_file_and_no_source(client, free_port):
    """A program uploaded later: nothing written yet, the main file's name kept."""
    sb = create_program(client, free_port, main_file="src/server.py").json()
    assert sb["main_file"] == "src/server.py"
    assert files_of(sb) == {}
    assert client.get(sb["links"]["program"]).json() == {
        "main_file": "src/server.py", "source": None, "starter": ""}


@pytest.mark.parametrize("language", ["en", "ja"])
def test_create_from_a_starter_in_the_page_language(client, free_port, roomy, language):
    response = create_program(client, free_port, starter="loop",
                              headers={"HTTP_ACCEPT_LANGUAGE": language})
    assert response.status_code == 201, response.content
    sb = response.json()
    assert (sb["starter"], sb["main_file"]) == ("loop", "main.py")
    assert files_of(sb)["main.py"] == starters.source("loop", language).encode()
    assert client.get(sb["links"]["program"]).json()["source"] == \
        starters.source("loop", language)


def test_a_starter_that_serves_files_gets_them_too(client, free_port, roomy):
    sb = create_program(client, free_port, starter="static").json()
    written = files_of(sb)
    expected = {name for name, _chunks in starters.files("static")}
    assert expected and expected <= set(written)
    assert written["main.py"] == starters.source("static", "en").encode()


def test_a_henaserver_sandbox_says_its_kind(client, free_port):
    sb = create(client, free_port).json()
    assert {k: sb[k] for k in ("kind", "main_file", "starter", "program_error",
                               "isolation", "mode")} == {
        "kind": "henaserver", "main_file": None, "starter": None, "program_error": None,
        "isolation": None, "mode": "full"}
    assert "program" not in sb["links"] and "mode" in sb["links"]
    assert client.get(f"{LIST}{sb['id']}/program/").status_code == 409


# ----- refusals: nothing is created -----------------------------------------------------------


@pytest.mark.parametrize("fields, status, field, english", [
    ({"kind": "php"}, 400, "kind", "unknown kind 'php'; choose one of henaserver, program"),
    ({"starter": "loop"}, 400, "kind",
     'starter is for a program sandbox: send "kind": "program" too'),
    ({"kind": "henaserver", "source": "x"}, 400, "kind",
     'source is for a program sandbox: send "kind": "program" too'),
    ({"kind": "program", "starter": "nope"}, 400, "starter", "there is no starter 'nope'"),
    ({"kind": "program", "starter": 7}, 400, "starter", "there is no starter 7"),
    ({"kind": "program", "source": "x", "starter": "loop"}, 400, "starter",
     'send "source" or "starter", not both'),
    ({"kind": "program", "source": 42}, 400, "source", "source must be a string"),
    ({"kind": "program", "main_file": "../up.py"}, 400, "main_file", None),
    ({"kind": "program", "main_file": "/etc/x.py"}, 400, "main_file", None),
    ({"kind": "program", "main_file": "notes.txt"}, 400, "main_file",
     "the main file 'notes.txt' must be a Python file (ending in .py)"),
    ({"kind": "program", "main_file": ["a.py"]}, 400, "main_file",
     "main_file must be a string"),
    ({"kind": "program", "source": "x", "mode": "once"}, 409, "mode",
     "a program sandbox has no mode or rules: your program decides how it answers; edit "
     "it instead"),
    ({"kind": "program", "source": "#" * 1001}, 413, "source",
     "the program is 1001 bytes; the limit per file is 1000 bytes"),
])
def test_refusals_create_nothing(client, free_port, settings, fields, status, field,
                                 english):
    response = create(client, free_port, **fields)
    assert response.status_code == status, response.content
    body = response.json()
    assert body.get("field") == field
    if english:
        assert body["error"] == english
    assert client.get(LIST).json()["sandboxes"] == []
    folders = settings.PLAYGROUND_DATA_DIR / "sandboxes"
    assert not folders.exists() or not any(folders.iterdir())


def test_refusals_in_japanese(client, free_port, compiled_translations):
    answer = create(client, free_port, kind="program", source="x", mode="once",
                    headers={"HTTP_ACCEPT_LANGUAGE": "ja"}).json()
    assert answer["error"] == ("プログラムのサンドボックスにはモードもルールもありません。"
                               "答え方はあなたのプログラムが決めます。プログラムを編集してください")
    answer = create(client, free_port, kind="program", starter="nope",
                    headers={"HTTP_ACCEPT_LANGUAGE": "ja"}).json()
    assert answer["error"] == "スターター 'nope' はありません"


def test_a_program_over_the_owners_quota_creates_nothing(client, free_ports, settings):
    """Each file fits, the owner's disk quota does not: 413, and no sandbox left."""
    first, second = free_ports(2)
    settings.PLAYGROUND_MAX_OWNER_BYTES = 1500
    assert create_program(client, first, source="#" * 900).status_code == 201
    response = create_program(client, second, source="#" * 900)
    assert response.status_code == 413, response.content
    assert "what is left of your disk quota" in response.json()["error"]
    assert [s["port"] for s in client.get(LIST).json()["sandboxes"]] == [first]


# ----- GET | PUT .../program/ -------------------------------------------------------------------


def test_read_and_replace_the_program(client, free_port):
    sb = create_program(client, free_port, source=LOOP).json()
    url = sb["links"]["program"]
    assert client.get(url).json() == {"main_file": "main.py", "source": LOOP, "starter": ""}
    new = "print('v2')\r\n# CRLF kept as written\n"
    response = put(client, url, {"source": new})
    assert response.status_code == 200, response.content
    # Stopped: nothing to restart.
    assert response.json() == {"main_file": "main.py", "source": new, "starter": "",
                               "restart_needed": False, "notice": ""}
    assert files_of(sb) == {"main.py": new.encode()}


def test_a_main_file_that_is_not_text_reads_as_null(client, free_port):
    sb = create_program(client, free_port, source=LOOP).json()
    client.put(f"{sb['links']['files']}main.py", b"\xff\xfe\x00binary",
               content_type="application/octet-stream")
    assert client.get(sb["links"]["program"]).json()["source"] is None


def test_a_planted_symlink_is_never_followed_out(client, free_port, tmp_path):
    """The program runs as its own uid and writes in its folder: a main.py it made a
    symlink to a secret of the playground's must not be read for it."""
    secret = tmp_path / "secret_key"
    secret.write_text("the playground's secret")
    sb = create_program(client, free_port, source=LOOP).json()
    main = root_of(Sandbox.objects.get(pk=sb["id"])) / "main.py"
    main.unlink()
    main.symlink_to(secret)
    assert client.get(sb["links"]["program"]).json()["source"] is None
    response = client.post(sb["links"]["start"], content_type="application/json")
    assert response.status_code == 409  # no main file of its own to run
    assert secret.read_text() == "the playground's secret"


def test_replace_with_another_main_file(client, free_port):
    sb = create_program(client, free_port, source=LOOP).json()
    response = put(client, sb["links"]["program"], {"source": "x = 1\n", "main_file": "app.py"})
    assert response.json()["main_file"] == "app.py"
    assert Sandbox.objects.get(pk=sb["id"]).main_file == "app.py"
    assert client.get(sb["links"]["self"]).json()["main_file"] == "app.py"
    # The old file stays: it is one of the sandbox's files, deleted only when asked.
    assert files_of(sb) == {"main.py": LOOP.encode(), "app.py": b"x = 1\n"}


@pytest.mark.parametrize("body, status, field", [
    ({"source": None}, 400, "source"),
    ({}, 400, "source"),
    ({"source": "#" * 1001}, 413, "source"),
    ({"source": "x", "main_file": "a/../../b.py"}, 400, "main_file"),
    ({"source": "x", "main_file": "b.sh"}, 400, "main_file"),
])
def test_a_refused_replace_changes_nothing(client, free_port, body, status, field):
    sb = create_program(client, free_port, source=LOOP).json()
    response = put(client, sb["links"]["program"], body)
    assert response.status_code == status, response.content
    assert response.json()["field"] == field
    assert files_of(sb) == {"main.py": LOOP.encode()}
    assert Sandbox.objects.get(pk=sb["id"]).main_file == "main.py"


def test_replace_over_the_sandbox_limit_keeps_the_old_program(client, free_port):
    """Per file it fits (1000), with the other files it does not (3000 per sandbox)."""
    sb = create_program(client, free_port, source=LOOP).json()
    for name in ("a.txt", "b.txt", "c.txt"):
        client.put(f"{sb['links']['files']}{name}", b"#" * 900,
                   content_type="application/octet-stream")
    response = put(client, sb["links"]["program"], {"source": "#" * 900})
    assert response.status_code == 413, response.content
    assert files_of(sb)["main.py"] == LOOP.encode()


def test_the_program_of_another_owner_is_not_found(client, other_client, free_port):
    sb = create_program(client, free_port, source=LOOP).json()
    assert other_client.get(sb["links"]["program"]).status_code == 404
    assert put(other_client, sb["links"]["program"], {"source": "evil"}).status_code == 404
    assert files_of(sb) == {"main.py": LOOP.encode()}


@pytest.mark.parametrize("part", ["mode", "rules"])
def test_mode_and_rules_are_refused_for_a_program(client, free_port, part):
    sb = create_program(client, free_port, source=LOOP).json()
    url = f"{LIST}{sb['id']}/{part}/"
    for response in (client.get(url), put(client, url, {"mode": "once", "rules": []})):
        assert response.status_code == 409
        assert "has no mode or rules" in response.json()["error"]
    assert Sandbox.objects.get(pk=sb["id"]).mode == "program"


# ----- without isolation (point 5) ----------------------------------------------------------------


def test_unisolated_programs_are_offered_to_a_single_local_user(client, free_port, no_bwrap):
    response = create_program(client, free_port, source=LOOP)
    assert response.status_code == 201, response.content
    assert response.json()["isolation"] == (
        "your program runs without isolation here (bubblewrap (bwrap) is not installed): "
        "it can reach the network and write outside its folder, as you can")
    japanese = client.get(response.json()["links"]["self"], HTTP_ACCEPT_LANGUAGE="ja")
    assert japanese.json()["isolation"] == (
        "このプログラムは隔離されずに動きます（bubblewrap (bwrap) がインストールされていません）。"
        "あなたと同じように、ネットワークにつながり、自分のフォルダーの外にも書き込めます")
    assert client.get(LIST).json()["programs"] == {
        "offered": True, "isolated": False, "why": response.json()["isolation"]}
    # A henaserver sandbox is henaserver, isolated or not: nothing to say.
    other = create(client, free_port + 1 if free_port < 65535 else free_port - 1).json()
    assert other.get("isolation") is None


@pytest.mark.parametrize("setting", ["PLAYGROUND_REQUIRE_LOGIN", "PLAYGROUND_PRODUCTION"])
def test_unisolated_programs_are_refused_to_a_class(client, free_port, no_bwrap, setting):
    setattr(no_bwrap, setting, True)
    client.force_login(get_user_model().objects.create_user("alice", password="x"))
    for language, english in (("en", True), ("ja", False)):
        response = create_program(client, free_port, source=LOOP,
                                  headers={"HTTP_ACCEPT_LANGUAGE": language})
        assert response.status_code == 403, response.content
        body = response.json()
        assert body["isolation"] == "no bwrap"
        if english:
            assert body["error"] == (
                "programs cannot run on this playground: bubblewrap (bwrap) is not "
                "installed, and without isolation they are offered only to a single local "
                "user (not with logins, not in production)")
        else:
            assert "bubblewrap (bwrap) がインストールされていません" in body["error"]
            assert "プログラム" in body["error"]
    assert Sandbox.objects.count() == 0
    offer = client.get(LIST).json()["programs"]
    assert (offer["offered"], offer["isolated"]) == (False, False)
    assert offer["why"].startswith("programs cannot run on this playground")
    # henaserver sandboxes are not concerned.
    assert create(client, free_port).status_code == 201


def test_a_program_made_before_is_not_started_once_refused(client, free_port, settings,
                                                          tmp_path):
    """Created on a local playground, started after it was opened to a class."""
    sb = create_program(client, free_port, source=LOOP).json()
    settings.PLAYGROUND_BWRAP = str(tmp_path / "no-such-bwrap")
    settings.PLAYGROUND_REQUIRE_LOGIN = True
    client.force_login(get_user_model().objects.create_user("alice", password="x"))
    Sandbox.objects.filter(pk=sb["id"]).update(
        user=get_user_model().objects.get(username="alice"), owner_token="")
    response = client.post(sb["links"]["start"], content_type="application/json")
    assert response.status_code == 403, response.content
    assert Sandbox.objects.get(pk=sb["id"]).status == "stopped"


def test_a_resume_refused_by_the_policy_says_why_on_the_row(client, free_port, settings,
                                                            tmp_path):
    """After an autoreload the new worker starts the rows it should resume (boot.py),
    with settings that may have changed: the refusal is recorded, never a row stuck
    starting under a claim nobody serves."""
    sb = create_program(client, free_port, source=LOOP).json()
    Sandbox.objects.filter(pk=sb["id"]).update(resume=True, stopped_at=timezone.now())
    settings.PLAYGROUND_BWRAP = str(tmp_path / "no-such-bwrap")
    settings.PLAYGROUND_PRODUCTION = True
    assert boot.resume() == 0
    row = Sandbox.objects.get(pk=sb["id"])
    assert (row.status, row.claim, row.run_by) == ("stopped", "", "")
    assert row.message == program_kind.NOT_OFFERED
    shown = client.get(sb["links"]["self"]).json()
    assert shown["refused"] is True, shown  # the card shows it as an error, not in black


def test_start_without_a_main_file_says_so(client, free_port):
    sb = create_program(client, free_port, main_file="app.py").json()
    response = client.post(sb["links"]["start"], content_type="application/json")
    assert response.status_code == 409
    assert response.json()["error"] == ("there is no app.py in this sandbox to run: write it "
                                        "in the editor or upload it")
    assert Sandbox.objects.get(pk=sb["id"]).status == "stopped"


@pytest.mark.parametrize("require_login, warning", [(False, "playground.W003"),
                                                    (True, "playground.W002")])
def test_the_system_check_says_programs_are_unisolated(no_bwrap, capsys, require_login,
                                                       warning):
    no_bwrap.PLAYGROUND_REQUIRE_LOGIN = require_login
    management.call_command("check")
    output = capsys.readouterr()
    assert warning in output.out + output.err


def test_the_system_check_is_quiet_with_bubblewrap(client, capsys, settings):
    if os.geteuid() != 0:
        pytest.skip("isolation needs root here (docs/program-sandboxes.md)")
    assert client.get(LIST).json()["programs"] == {"offered": True, "isolated": True,
                                                   "why": None}
    management.call_command("check")
    output = capsys.readouterr()
    assert "W002" not in output.out + output.err and "W003" not in output.out + output.err


def test_a_typo_in_the_limits_is_a_system_check_error(settings):
    settings.PLAYGROUND_PROGRAM_LIMITS = {"cpu_second": 5}
    with pytest.raises(management.base.SystemCheckError, match="cpu_second"):
        management.call_command("check")


# ----- the migration ---------------------------------------------------------------------------


def test_rows_inserted_without_the_new_columns_are_henaserver_sandboxes():
    """A process of the release before (a rolling upgrade) inserts rows without them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO playground_sandbox (name, port, status, stderr_tail, message, "
            "message_params, created_at, requests, errors, bytes_in, bytes_out, "
            "connections, events_dropped, ingest_dropped, last_seq, mode, fixed_response, "
            "rules, run_by, claim, resume, owner_token) VALUES ('old', 40123, 'stopped', "
            "'', '', '{}', '2026-01-01', 0, 0, 0, 0, 0, 0, 0, 0, 'full', '', '[]', '', "
            "'', 0, '')")
    row = Sandbox.objects.get(port=40123)
    assert (row.kind, row.main_file, row.starter) == ("henaserver", "main.py", "")
