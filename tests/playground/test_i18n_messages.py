"""Server-side refusals and failures in Japanese and English, through real requests
(docs/i18n.md): each JSON ``error`` is in the request's language, with its values."""

import json
import re
import socket

import pytest
from django.test import Client
from testkit.uploads import multipart

from playground.refusals import Message, Refusal
from playground.sandboxes import exits, presenters, runtime
from playground.sandboxes.exits import describe_returncode

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("compiled_translations")]  # tests/conftest.py

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def browser(language: str) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    return client


def create(client, port, name="site"):
    return client.post("/api/sandboxes/", {"name": name, "port": port},
                       content_type="application/json")


def japanese(text: str, *values) -> None:
    assert JAPANESE.search(text), text
    for value in values:
        assert str(value) in text, (value, text)


@pytest.fixture
def clients():
    return {"ja": browser("ja"), "en": browser("en")}


def sandbox_of(client, free_port_value):
    response = create(client, free_port_value)
    assert response.status_code == 201, response.content
    return response.json()


def test_upload_refusals(clients, free_ports):
    ja = clients["ja"]
    port, other_port = free_ports(2)
    sb = sandbox_of(ja, port)
    body, content_type = multipart(("files", "../x", b"x"))
    refused = ja.post(sb["links"]["files"], body, content_type=content_type)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error == "パス '../x' に '..' が使われています。パスはサイトの中にとどまる必要があります"

    too_big = ja.put(sb["links"]["files"] + "a.txt", b"x" * 1001, content_type="text/plain")
    assert too_big.status_code == 413
    assert too_big.json()["error"] == "このファイルは大きすぎます。上限は 1000 バイトです"

    body, content_type = multipart(("files", "big.bin", b"x" * 1001))
    big = ja.post(sb["links"]["files"], body, content_type=content_type)
    assert big.status_code == 413
    assert big.json()["error"] == "'big.bin' は 1 ファイルの上限 1000 バイト より大きいです"

    # The same requests in English: the English text, unchanged.
    en = clients["en"]
    mine = sandbox_of(en, other_port)
    body, content_type = multipart(("files", "../x", b"x"))
    assert en.post(mine["links"]["files"], body, content_type=content_type).json()["error"] \
        == "the path '../x' uses '..'; it must stay inside the site"
    assert en.put(mine["links"]["files"] + "a.txt", b"x" * 1001,
                  content_type="text/plain").json()["error"] \
        == "this file is too large: the limit is 1000 bytes"


def test_zip_member_refusal_nests_the_translated_reason(clients, free_port, make_zip):
    ja = clients["ja"]
    sb = sandbox_of(ja, free_port)
    body, content_type = multipart(("archive", "a.zip", make_zip({"a//b.txt": b"x"})))
    error = ja.post(sb["links"]["files"], body, content_type=content_type).json()["error"]
    assert error == ("zip の中のファイルを受け付けられません: パス 'a//b.txt' に空のフォルダー名が"
                     "あります（// か、先頭または末尾の /）")


def test_bad_ports(clients, settings, free_port):
    settings.PLAYGROUND_PORT_RANGE = (20000, 20010)
    for language, expected in [
            ("ja", "ポート 30000 は使用できる範囲 20000-20010 の外です"),
            ("en", "port 30000 is outside the allowed range 20000-20010")]:
        response = create(clients[language], 30000)
        assert response.status_code == 400
        assert response.json()["error"] == expected
    japanese(create(clients["ja"], "abc").json()["error"])


def test_port_used_by_another_sandbox(clients, free_port):
    sandbox_of(clients["ja"], free_port)
    other = browser("ja")
    error = create(other, free_port).json()["error"]
    assert error == f"ポート {free_port} はほかのサンドボックスが使っています"
    english = create(browser("en"), free_port).json()["error"]
    assert english == f"port {free_port} is already used by another sandbox"


def test_composer_on_a_stopped_sandbox(clients, free_ports):
    ja = clients["ja"]
    port, other_port = free_ports(2)
    sb = sandbox_of(ja, port)
    body = json.dumps({"request_b64": "R0VUIC8gSFRUUC8xLjENCg0K"})
    response = ja.post(sb["links"]["compose"], body, content_type="application/json")
    assert response.status_code == 409
    assert response.json()["error"] == \
        "「site」は停止中です。先に起動してから、リクエストを送ってください"
    en = clients["en"]
    mine = sandbox_of(en, other_port)
    response = en.post(mine["links"]["compose"], body, content_type="application/json")
    assert response.status_code == 409
    assert response.json()["error"] == \
        "“site” is stopped: start it first, then send your request"


def test_rules_validation(clients, free_ports):
    ja = clients["ja"]
    port, other_port = free_ports(2)
    sb = sandbox_of(ja, port)
    rules = {"rules": [{"method": "GET", "path": "/", "response": "HTTP/1.1 200 OK\n\n"},
                       {"method": "G3T", "path": "/", "response": "x"}]}
    response = ja.put(sb["links"]["rules"], json.dumps(rules), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "ルール 2: メソッドは英字か * で指定してください"
    response = ja.put(sb["links"]["rules"], json.dumps({"rules": [{"path": "/"}]}),
                      content_type="application/json")
    assert response.json()["error"] == "ルール 1 にレスポンスがありません"
    en = clients["en"]
    mine = sandbox_of(en, other_port)
    response = en.put(mine["links"]["rules"], json.dumps(rules),
                      content_type="application/json")
    assert response.json()["error"] == "rule 2: the method must be letters or *"


def test_missing_exchange(clients, free_port, settings):
    settings.PLAYGROUND_RETENTION_EXCHANGES = 2000
    ja = clients["ja"]
    sb = sandbox_of(ja, free_port)
    url = sb["links"]["exchanges"] + "42/request.raw"
    response = ja.get(url)
    assert response.status_code == 404
    assert response.json()["error"] == ("やり取り 42 は保存されていません（削除された可能性が"
                                        "あります。プレイグラウンドが保存するのは最新の 2000 "
                                        "件です）")
    curl = ja.get(sb["links"]["exchanges"] + "42/export/curl")
    assert curl.status_code == 404 and curl.json()["error"] == response.json()["error"]
    english = Client(HTTP_ACCEPT_LANGUAGE="en")
    english.cookies = ja.cookies  # the same owner, another language
    english.cookies["django_language"] = "en"
    assert english.get(url).json()["error"] == (
        "exchange 42 is not stored (it may have been evicted: the playground keeps the "
        "latest 2000)")


def test_start_fails_when_another_program_holds_the_port(clients, free_port):
    ja = clients["ja"]
    sb = sandbox_of(ja, free_port)
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", free_port))
        taken.listen()
        response = ja.post(sb["links"]["start"], {}, content_type="application/json")
    assert response.status_code == 409
    assert response.json()["error"] == f"ポート {free_port} はほかのプログラムが使っています"
    # Stored in English, shown in the language of whoever looks.
    assert ja.get(sb["links"]["self"]).json()["message"] == response.json()["error"]
    english = Client()
    english.cookies = ja.cookies
    english.cookies["django_language"] = "en"
    assert english.get(sb["links"]["self"]).json()["message"] == \
        f"port {free_port} is already used by another program"


def test_stored_start_and_crash_messages_are_translated_when_shown():
    # Kept on the row as data (a msgid and its parameters, nested for the exit), so
    # nothing parses English back: the regex that did is gone.
    from django.utils import translation

    crash = Message(runtime.CRASHED_MESSAGE, exit=describe_returncode(-9))
    assert str(crash) == "the server stopped unexpectedly (killed by signal SIGKILL (exit code -9))"
    not_ready = Message(exits.NOT_READY, exit=describe_returncode(1), last="OSError: (boom): bad")
    assert str(not_ready) == ("the server stopped before it was ready (exit code 1): "
                              "OSError: (boom): bad")
    stored = Message.from_json(json.loads(json.dumps(crash.to_json())))  # as on the row
    assert stored == crash
    with translation.override("ja"):
        assert presenters.message_for_people(stored) == \
            "サーバーが予期せず停止しました（シグナル SIGKILL で強制終了（終了コード -9））"
        assert presenters.message_for_people(not_ready) == \
            "サーバーが準備完了の前に停止しました（終了コード 1）: OSError: (boom): bad"
        assert presenters.message_for_people(Message(exits.TIMEOUT, seconds="10")) == \
            "サーバーが 10 秒以内に待ち受け開始を報告しませんでした"
        assert presenters.message_for_people(Message("something a server printed")) == \
            "something a server printed"
    with translation.override("en"):
        assert presenters.message_for_people(stored) == str(crash)


def test_refusals_keep_english_as_their_str():
    error = Refusal("port %(port)s is outside the allowed range %(first)s-%(last)s",
                    port=1, first=2, last=3)
    assert str(error) == "port 1 is outside the allowed range 2-3"


async def test_asgi_guard_answers_in_the_request_language(settings):
    """The body-size guard answers before Django sees the request: it reads the
    language cookie and Accept-Language itself."""
    from channels.testing import HttpCommunicator

    from playground.asgi import application

    settings.PLAYGROUND_MAX_REQUEST_BYTES = 1000
    for headers, expected in [
            ([(b"accept-language", b"ja,en;q=0.8")], "このアップロードは大きすぎます"),
            ([(b"cookie", b"django_language=ja"), (b"accept-language", b"en")],
             "このアップロードは大きすぎます"),
            ([(b"accept-language", b"en")], "this upload is too large")]:
        communicator = HttpCommunicator(
            application, "POST", "/api/sandboxes/1/files/",
            headers=[(b"content-length", b"999999999"), *headers])
        response = await communicator.get_response()
        assert response["status"] == 413
        assert json.loads(response["body"])["error"].startswith(expected)


def test_problem_states_the_exit_code_once_in_either_language():
    # Pages once appended "(exit code N)" themselves, searching the translated text
    # for "exit code": in Japanese a crash then showed its exit code twice.
    from django.utils import translation

    crash = Message(runtime.CRASHED_MESSAGE, exit=describe_returncode(-9))
    port = Message(exits.PORT_IN_USE, port=8123)
    with translation.override("ja"):
        worded = presenters.problem_for_people(crash, -9)
        assert worded.count("終了コード") == 1 and "-9" in worded
        assert presenters.problem_for_people(port, 2).endswith("（終了コード 2）")
    with translation.override("en"):
        assert presenters.problem_for_people(crash, -9).count("exit code") == 1
        assert presenters.problem_for_people(port, 2).endswith(" (exit code 2)")
        assert presenters.problem_for_people(None, None) == ""
