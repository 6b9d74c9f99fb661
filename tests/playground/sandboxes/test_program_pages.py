"""The pages of the program kind, as the server renders them (the browser side is
tests/e2e/test_program_e2e.py): the create form's kind and starter list, and a program
sandbox's page (editor, help with its port and limits, console) in both languages."""

import re

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/api/sandboxes/"


@pytest.fixture
def roomy(settings):
    settings.PLAYGROUND_MAX_FILE_BYTES = settings.PLAYGROUND_MAX_SANDBOX_BYTES = 10**6
    settings.PLAYGROUND_MAX_FILES = 20
    return settings


def program(client, port, **fields):
    response = client.post(LIST, {"name": "mine", "port": port, "kind": "program",
                                  "starter": "loop", **fields},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def test_home_offers_the_kind_and_every_starter_in_order(client):
    html = client.get("/").content.decode()
    assert 'name="kind" value="henaserver" checked' in html
    assert 'name="kind" value="program"' in html
    listed = re.findall(r'<li data-starter="([a-z-]*)">', html)
    assert listed == ["save-request", "saved-response", "once", "loop", "static", "threads",
                      "henaserver", ""]  # the last: an empty program
    assert html.count('<button type="button" class="btn primary" data-starter=') == 7
    assert "Loop: answer every request" in html


def test_home_in_japanese(client, compiled_translations):
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "自作のサーバープログラム（Python）" in html
    assert "Content-Type の対応表で静的ファイルを返す" in html
    assert "「Content-Type の対応表で静的ファイルを返す」を起動" in html


def test_a_program_page_has_the_editor_help_and_console(client, free_port, roomy, settings):
    settings.PLAYGROUND_PROGRAM_LIMITS = {"cpu_seconds": 7, "open_files": 99}
    sb = program(client, free_port)
    html = client.get(sb["links"]["page"]).content.decode()
    assert f'data-program-url="{sb["links"]["program"]}"' in html
    assert 'id="program-text"' in html and 'id="console"' in html
    assert 'data-main-file="main.py"' in html
    help_text = re.sub(r"\s+", " ", html[html.index('id="program-help"'):])
    assert f"<code>{free_port}</code>" in help_text  # the port PORT holds
    assert "<code>PORT</code>" in help_text and "sys.argv[1]" in help_text
    assert "No network" in help_text and "only in its own folder" in help_text
    assert "7 s of CPU" in help_text and "99 open files" in help_text
    assert "256 MB of memory" in help_text  # a default
    assert 'id="modes-panel"' not in html and 'id="rules-panel"' not in html
    assert "editor.css" in html
    assert 'id="program-isolation"' not in html  # bwrap is here: isolated


def test_a_henaserver_page_has_no_program_panel(client, free_port):
    response = client.post(LIST, {"name": "site", "port": free_port},
                           content_type="application/json")
    html = client.get(response.json()["links"]["page"]).content.decode()
    assert 'id="program-panel"' not in html and 'id="modes-panel"' in html


def test_the_program_page_in_japanese(client, free_port, roomy, compiled_translations):
    sb = program(client, free_port)
    html = client.get(sb["links"]["page"], HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    help_text = re.sub(r"\s+", " ", html)
    assert "あなたのプログラム" in help_text and "保存して再起動" in help_text
    assert "ネットワークはありません" in help_text and "コンソール" in help_text
    assert f"ここでは <code>{free_port}</code>" in help_text


def test_the_page_says_when_programs_run_unisolated(client, free_port, roomy, settings,
                                                     tmp_path, compiled_translations):
    settings.PLAYGROUND_BWRAP = str(tmp_path / "no-such-bwrap")
    sb = program(client, free_port)
    html = client.get(sb["links"]["page"]).content.decode()
    assert 'id="program-isolation"' in html
    assert "without isolation" in html and "bubblewrap (bwrap) is not installed" in html
    # The help claims nothing the warning denies: PORT is not the sandbox's port (the
    # relay's) but an internal one, and it has the network and the disk.
    help_text = re.sub(r"\s+", " ", html[html.index('id="program-help"'):])
    assert "No network" not in help_text and "only in its own folder" not in help_text
    assert f"that is not <code>{free_port}</code>" in help_text
    assert f"here <code>{free_port}</code>" not in help_text
    html = client.get(sb["links"]["page"], HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    help_text = re.sub(r"\s+", " ", html[html.index('id="program-help"'):])
    assert "ネットワークはありません" not in help_text
    assert f"<code>{free_port}</code> ではありません" in help_text


def test_the_form_says_why_programs_are_unisolated_or_refused(client, settings, tmp_path):
    settings.PLAYGROUND_BWRAP = str(tmp_path / "no-such-bwrap")
    html = client.get("/").content.decode()
    assert 'value="program" form="create-form">' in html  # offered: a single local user
    assert 'id="programs-why"' in html and "without isolation" in html
    settings.PLAYGROUND_REQUIRE_LOGIN = True
    client.force_login(get_user_model().objects.create_user("learner", password="x"))
    html = client.get("/").content.decode()
    assert 'value="program" form="create-form" disabled>' in html
    assert "programs cannot run on this playground" in html


def test_the_form_says_nothing_more_with_isolation(client):
    html = client.get("/").content.decode()
    assert 'id="programs-why"' not in html and 'form="create-form" disabled' not in html


def test_the_footer_does_not_call_every_sandbox_henaserver(client, free_port, roomy,
                                                           compiled_translations):
    sb = program(client, free_port)
    for language, words in (("en", "your own program behind the capture relay"),
                            ("ja", "キャプチャリレーの後ろで動くあなたのプログラム")):
        html = client.get(sb["links"]["page"], HTTP_ACCEPT_LANGUAGE=language).content.decode()
        footer = re.sub(r"\s+", " ", html[html.index('<footer'):])
        assert words in footer


def test_the_traffic_page_s_console_is_the_program_s(client, free_port, roomy,
                                                     compiled_translations):
    sb = program(client, free_port)
    html = client.get(sb["links"]["traffic"]).content.decode()
    assert "what your program prints" in html and "what henaserver prints" not in html
    html = client.get(sb["links"]["traffic"], HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "プログラムが出力する内容" in html
