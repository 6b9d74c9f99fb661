"""The run's generated files (inputs.py): fresh random names and contents each run, an
.html whose length in characters is not its length in bytes, a valid PNG, a secret
beside the folder; written readable, removed whole."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from playground.checking.inputs import GeneratedFiles


def test_names_and_contents_differ_from_run_to_run():
    one, two = GeneratedFiles.make(), GeneratedFiles.make()
    for a, b in zip(one.served, two.served, strict=True):
        assert a.name != b.name and a.content != b.content
    assert one.missing != two.missing and one.token != two.token
    names = [f.name for f in one.served] + [one.missing.lstrip("/")]
    assert len(set(names)) == len(names)
    assert [f.name.rsplit(".", 1)[1] for f in one.served] == ["html", "css", "png", "js",
                                                              "css"]
    assert one.nested.name.count("/") == 1 and one.html.path == "/" + one.html.name


def test_the_html_counts_differently_in_characters_and_bytes():
    html = GeneratedFiles.make().html.content
    assert len(html.decode("utf-8")) < len(html)
    assert html.decode("utf-8").startswith("<!doctype html>")


def test_the_png_is_a_valid_png():
    data = GeneratedFiles.make().png.content
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, kinds = 8, []
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length:at + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        kinds.append(kind)
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        if kind == b"IDAT":
            rows = zlib.decompress(body)
        at += 12 + length
    assert kinds == [b"IHDR", b"IDAT", b"IEND"]
    assert (depth, colour) == (8, 2) and len(rows) == height * (1 + 3 * width)


def test_written_readable_and_removed(tmp_path):
    docroot = tmp_path / "site" / "static"
    docroot.mkdir(parents=True)
    files = GeneratedFiles.make()
    files.write(str(docroot))
    for file in files.served:
        path = docroot / file.name
        assert path.read_bytes() == file.content and path.stat().st_mode & 0o777 == 0o644
    assert (docroot / files.nested.name).parent.stat().st_mode & 0o777 == 0o755
    secret = Path(files.secret_path)
    assert secret.parent == docroot.parent and secret.read_bytes() == files.secret.content
    assert files.secret_escape == "/../" + secret.name
    files.remove()
    files.remove()  # twice is harmless
    assert list(tmp_path.rglob("chk-*")) == []

