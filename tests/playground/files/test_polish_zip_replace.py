"""A zip that would replace files asks first, like the starter site (issue 16, point
12): the API names the files it would replace (409) and writes nothing, unless the
upload says ``overwrite=true``. Limits in these tests (conftest): 5 files, 3000 bytes."""

import pytest
from testkit.uploads import multipart, snapshot

from playground.files.storage import files_of
from playground.models import Sandbox

pytestmark = pytest.mark.django_db(transaction=True)


def upload(client, url, *parts, language="en"):
    body, content_type = multipart(*parts)
    return client.post(url, body, content_type=content_type, HTTP_ACCEPT_LANGUAGE=language)


@pytest.fixture
def sb(client, free_port):
    return client.post("/api/sandboxes/", {"name": "zips", "port": free_port},
                       content_type="application/json").json()


@pytest.fixture
def files_url(sb):
    return sb["links"]["files"]


def on_disk(sb) -> dict[str, bytes]:
    return snapshot(files_of(Sandbox.objects.get(pk=sb["id"])).root)


def test_a_zip_over_existing_files_is_refused_naming_them(client, sb, files_url, make_zip):
    client.put(files_url + "site/index.html", b"my own work", content_type="text/html")
    before = on_disk(sb)
    archive = make_zip({"site/index.html": b"<p>zip</p>", "site/new.css": b"p{}"})
    answer = upload(client, files_url, ("archive", "site.zip", archive))
    assert answer.status_code == 409, answer.json()
    assert answer.json()["existing"] == ["site/index.html"]
    assert answer.json()["error"] == \
        "site/index.html already exists in this sandbox; replace it?"
    assert on_disk(sb) == before  # not even the new file: all or nothing

    again = upload(client, files_url, ("archive", "site.zip", archive),
                   ("overwrite", None, b"true"))
    assert again.status_code == 201, again.json()
    assert sorted(again.json()["written"]) == ["site/index.html", "site/new.css"]
    assert on_disk(sb)["site/index.html"] == b"<p>zip</p>"


def test_a_zip_of_new_files_needs_no_question(client, sb, files_url, make_zip):
    client.put(files_url + "index.html", b"mine", content_type="text/html")
    answer = upload(client, files_url, ("archive", "a.zip", make_zip({"site/index.html": b"z"})))
    assert answer.status_code == 201, answer.json()
    assert on_disk(sb)["index.html"] == b"mine"


def test_the_question_is_in_the_readers_language_and_names_at_most_five(
        client, sb, files_url, make_zip, settings):
    settings.PLAYGROUND_MAX_FILES = 8
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 8
    names = [f"{k}.txt" for k in range(7)]
    upload(client, files_url, *[("files", name, b"old") for name in names])
    archive = make_zip({name: b"new" for name in names})
    answer = upload(client, files_url, ("archive", "a.zip", archive), language="ja")
    assert answer.status_code == 409
    assert answer.json()["existing"] == names
    assert answer.json()["error"] == (
        "0.txt, 1.txt, 2.txt, 3.txt, 4.txt ほか 2 個のファイル はこのサンドボックスに"
        "すでにあります。置き換えますか？")
    # An unsafe member is still refused as such (400), before any question.
    bad = upload(client, files_url, ("archive", "b.zip", make_zip({"../x.txt": b"x",
                                                                   "0.txt": b"n"})))
    assert bad.status_code == 400
