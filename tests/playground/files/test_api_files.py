"""The files endpoints: uploads (files, folders, zips), the editor, the starter site, and
every rejection. Limits in these tests (conftest): 1000 bytes per file, 3000 per sandbox,
5 files. After each rejection nothing at all has been written."""

import os
import struct
import urllib.request

import pytest
from channels.testing import HttpCommunicator
from testkit.uploads import multipart, snapshot

from playground.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def upload(client, url, *parts):
    body, content_type = multipart(*parts)
    return client.post(url, body, content_type=content_type)


@pytest.fixture
def sb(client, free_port):
    response = client.post("/api/sandboxes/", {"name": "files", "port": free_port},
                           content_type="application/json")
    return response.json()


@pytest.fixture
def files_url(sb):
    return sb["links"]["files"]


def test_upload_files_and_a_folder_keeps_the_tree_and_is_served_at_once(client, sb, files_url):
    started = client.post(sb["links"]["start"]).json()
    response = upload(client, files_url,
                      ("files", "index.html", b"<h1>v1</h1>"),
                      ("files", "site/css/a.css", b"h1{}"),
                      ("files", "site/img/x.png", b"\x89PNG\r\n\x1a\n"))
    assert response.status_code == 201
    assert sorted(response.json()["written"]) == ["index.html", "site/css/a.css",
                                                  "site/img/x.png"]

    tree = {e["path"]: e for e in client.get(files_url).json()["files"]}
    assert tree["site"]["kind"] == "dir" and tree["site/css"]["kind"] == "dir"
    assert tree["site/css/a.css"] | {"modified": 0} == {
        "path": "site/css/a.css", "kind": "file", "size": 4, "type": "text/css",
        "text": True, "modified": 0}
    assert tree["site/img/x.png"]["text"] is False

    base = f"http://127.0.0.1:{sb['port']}/"
    with urllib.request.urlopen(base + "site/css/a.css", timeout=5) as r:
        assert r.read() == b"h1{}"
    # Edit in the browser: the running server serves the new bytes without a restart.
    assert client.put(files_url + "index.html", b"<h1>v2</h1>",
                      content_type="text/html").status_code == 200
    with urllib.request.urlopen(base, timeout=5) as r:
        assert r.read() == b"<h1>v2</h1>"
    assert client.get(sb["links"]["self"]).json()["pid"] == started["pid"]


def test_read_edit_create_and_delete(client, files_url):
    assert client.put(files_url + "notes/todo.txt", b"one",
                      content_type="text/plain").status_code == 201
    got = client.get(files_url + "notes/todo.txt")
    assert got.status_code == 200 and got.getvalue() == b"one"
    assert got["Content-Disposition"].startswith("attachment")  # never rendered here
    assert "sandbox" in got["Content-Security-Policy"]

    assert client.delete(files_url + "notes/todo.txt").json() == {"deleted": "notes/todo.txt"}
    assert client.get(files_url + "notes/todo.txt").status_code == 404
    assert client.delete(files_url + "notes").status_code == 200  # a folder, recursively
    assert client.get(files_url).json()["files"] == []
    assert client.delete(files_url + "nothing.txt").status_code == 404


def test_zip_is_extracted(client, files_url, make_zip):
    archive = make_zip({"site/index.html": b"<p>zip</p>", "site/a/b.txt": b"b", "site/": b""})
    response = upload(client, files_url, ("archive", "site.zip", archive))
    assert response.status_code == 201, response.json()
    assert client.get(files_url + "site/a/b.txt").getvalue() == b"b"


def test_starter_site_never_overwrites_without_asking(client, sb, files_url):
    url = sb["links"]["starter"]
    assert client.post(url, {}, content_type="application/json").status_code == 201
    assert b"color: red" in client.get(files_url + "index.css").getvalue()
    assert client.get(files_url + "logo.png").getvalue().startswith(b"\x89PNG")

    client.put(files_url + "index.html", b"my own work", content_type="text/html")
    again = client.post(url, {}, content_type="application/json")
    assert again.status_code == 409
    assert again.json()["existing"] == ["index.html", "index.css", "logo.png"]
    assert client.get(files_url + "index.html").getvalue() == b"my own work"
    forced = client.post(url, {"overwrite": True}, content_type="application/json")
    assert forced.status_code == 201
    assert b"Welcome to HenaServer!" in client.get(files_url + "index.html").getvalue()


def lying_zip(make_zip):
    """A zip bomb whose headers claim each member is 10 bytes (it is 100 000)."""
    data = bytearray(make_zip({"bomb.txt": b"\0" * 100_000}))
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(signature)
        data[at + offset:at + offset + 4] = struct.pack("<I", 10)
    return bytes(data)


REJECTIONS = {
    "file too big": (lambda z: [("files", "big.bin", b"x" * 1001)], 413, "the limit per file"),
    "sandbox full": (lambda z: [("files", f"f{i}.bin", b"x" * 900) for i in range(4)], 413,
                     "the limit per sandbox"),
    "too many files": (lambda z: [("files", f"f{i}.txt", b"x") for i in range(6)], 413,
                       "too many files"),
    "dot dot": (lambda z: [("files", "../x.txt", b"x")], 400, "'..'"),
    "dot dot inside": (lambda z: [("files", "a/../../x.txt", b"x")], 400, "'..'"),
    "absolute": (lambda z: [("files", "/etc/cron.d/x", b"x")], 400, "absolute"),
    "backslash": (lambda z: [("files", "..\\x.txt", b"x")], 400, "backslash"),
    "zip slip": (lambda z: [("archive", "a.zip", z({"ok.txt": b"1", "../../evil.txt": b"x"}))],
                 400, "zip member refused"),
    "zip absolute": (lambda z: [("archive", "a.zip", z({"/tmp/evil.txt": b"x"}))], 400,
                     "absolute"),
    "zip symlink": (lambda z: [("archive", "a.zip", z({"a.txt": b"1"}, {"link": "/etc"}))],
                    400, "symbolic link"),
    "zip bomb": (lambda z: [("archive", "a.zip", z({"bomb.txt": b"\0" * 100_000}))], 413,
                 "would unpack to"),
    "zip bomb, lying headers": (lambda z: [("archive", "a.zip", lying_zip(z))], 400,
                                "damaged"),
    "zip too many members": (lambda z: [("archive", "a.zip",
                                         z({f"{i}.txt": b"x" for i in range(6)}))],
                             413, "at most 5"),
    "zip over the sandbox limit": (lambda z: [("archive", "a.zip",
                                               z({f"{i}.txt": b"x" * 900 for i in range(4)}))],
                                   413, "would unpack to"),
    "not a zip": (lambda z: [("archive", "a.zip", b"hello")], 400, "not a zip"),
    "files and archive": (lambda z: [("files", "a.txt", b"1"), ("archive", "a.zip", z({}))],
                          400, "not both"),
    "no files": (lambda z: [("other", "a.txt", b"1")], 400, "no files received"),
}


@pytest.mark.parametrize("case", REJECTIONS, ids=str)
def test_upload_rejections(client, files_url, settings, make_zip, case):
    client.put(files_url + "keep.txt", b"precious", content_type="text/plain")
    before = snapshot(settings.PLAYGROUND_DATA_DIR)
    parts, status, message = REJECTIONS[case]
    response = upload(client, files_url, *parts(make_zip))
    assert response.status_code == status, response.json()
    assert message in response.json()["error"]
    assert snapshot(settings.PLAYGROUND_DATA_DIR) == before
    assert not os.path.exists("/tmp/evil.txt")


def test_put_rejections(client, files_url):
    too_big = client.put(files_url + "a.txt", b"x" * 1001, content_type="text/plain")
    assert too_big.status_code == 413
    assert "too large" in too_big.json()["error"]
    bad = client.put(files_url + "a//b.txt", b"x", content_type="text/plain")
    assert bad.status_code == 400
    assert client.get(files_url).json()["files"] == []


def test_a_stored_name_with_a_replacement_character_stays_readable_and_deletable(
        client, sb, files_url):
    """U+FFFD is refused in new names (it stands for broken UTF-8), but a file stored
    with it (before that rule, or put in the folder by other means) must still be read
    and deleted: before, GET and DELETE answered 400 and the file was stuck."""
    from urllib.parse import quote

    from playground.files.storage import root_of
    from playground.models import Sandbox

    name = "old\ufffd.txt"
    root = root_of(Sandbox.objects.get(pk=sb["id"]))
    root.mkdir(parents=True, exist_ok=True)
    (root / name).write_bytes(b"kept")
    url = files_url + quote(name)
    assert client.put(files_url + quote("new\ufffd.txt"), b"x",
                      content_type="text/plain").status_code == 400
    got = client.get(url)
    assert got.status_code == 200, got.content
    assert b"".join(got.streaming_content) == b"kept"
    deleted = client.delete(url)
    assert deleted.status_code == 200, deleted.content
    assert not (root / name).exists()


def test_upload_over_the_request_cap_is_refused_on_content_length(client, files_url, settings):
    settings.PLAYGROUND_MAX_REQUEST_BYTES = 1500
    response = upload(client, files_url, ("files", "a.bin", b"x" * 900),
                      ("files", "b.bin", b"x" * 900))
    assert response.status_code == 413
    assert "this upload is too large" in response.json()["error"]


async def test_asgi_guard_refuses_before_django_reads_the_body(settings):
    """Through the real ASGI application (as daphne runs it): a declared length over the
    cap, and a body without a length that grows over it, are both 413 at once."""
    settings.PLAYGROUND_MAX_REQUEST_BYTES = 1000
    declared = HttpCommunicator(application, "POST", "/api/sandboxes/1/files/",
                                headers=[(b"content-length", b"999999999")])
    response = await declared.get_response()
    assert response["status"] == 413
    assert b"too large" in response["body"]

    unannounced = HttpCommunicator(application, "POST", "/api/sandboxes/1/files/",
                                   body=b"x" * 5000)
    response = await unannounced.get_response()
    assert response["status"] == 413
