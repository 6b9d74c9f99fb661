"""The Decoded view's body, from tables of recorded bytes (playground/traffic/bodies.py):
chunked taken off, gzip, deflate and brotli undone within a bound (a bomb is refused),
the one text decoding rule (the charset of Content-Type, else UTF-8; a byte not valid in
it comes back as bytes, never as an invented character), JSON re-indented exactly or its
syntax error located."""

from __future__ import annotations

import base64
import gzip
import zlib

import brotli
import pytest

from playground.traffic import bodies

PAGE = "<!doctype html><h1>caf\u00e9 \u65e5\u672c</h1>".encode()


def response(body: bytes, *headers: str) -> bytes:
    head = "HTTP/1.1 200 OK\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n"
    return head.encode("latin-1") + body


def chunked(data: bytes, size: int = 5) -> bytes:
    pieces = [data[i:i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\nX-Sum: 1\r\n\r\n"


def text_of(view: dict) -> str:
    return "".join(p.get("text", "") for p in view["text"])


@pytest.mark.parametrize("name, encode", [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda data: zlib.compress(data, wbits=-15)),  # raw, as some servers send
    ("br", brotli.compress),
])
def test_each_content_coding_is_undone(name, encode):
    view = bodies.view(response(encode(PAGE), "Content-Type: text/html",
                                f"Content-Encoding: {name}"), response=True)
    assert view["decoded"] and view["kind"] == "html"
    assert [(s["name"], s["outcome"]) for s in view["steps"]] == [(name, "done")]
    assert text_of(view) == PAGE.decode()


def test_chunked_then_gzip_is_undone_in_order():
    sent = chunked(gzip.compress(PAGE), 7)
    view = bodies.view(response(sent, "Content-Type: text/html; charset=utf-8",
                                "Content-Encoding: gzip", "Transfer-Encoding: chunked"), True)
    steps = [(s["name"], s["outcome"]) for s in view["steps"]]
    assert steps == [("chunked", "done"), ("gzip", "done")]
    assert view["steps"][0]["chunks"] > 1 and view["sent_size"] == len(sent)
    assert text_of(view) == PAGE.decode()


def test_a_transfer_coding_under_chunked_is_undone_too():
    sent = chunked(gzip.compress(PAGE))
    view = bodies.view(response(sent, "Content-Type: text/html",
                                "Transfer-Encoding: gzip, chunked"), True)
    assert [s["name"] for s in view["steps"]] == ["chunked", "gzip"]
    assert text_of(view) == PAGE.decode()


def test_a_decompression_bomb_is_refused():
    bomb = gzip.compress(b"\0" * (bodies.MAX_DECODED + 1))
    assert len(bomb) < 64 * 1024  # it fits the recording
    view = bodies.view(response(bomb, "Content-Encoding: gzip"), True)
    assert not view["decoded"] and view["steps"][0]["outcome"] == "refused"
    assert "text" not in view
    brotli_bomb = brotli.compress(b"a" * (bodies.MAX_DECODED * 4))
    view = bodies.view(response(brotli_bomb, "Content-Encoding: br"), True)
    assert view["steps"][0]["outcome"] == "refused"


def test_broken_and_unknown_codings_say_so():
    view = bodies.view(response(b"not gzip", "Content-Encoding: gzip"), True)
    assert view["steps"][0]["outcome"] == "failed" and not view["decoded"]
    view = bodies.view(response(b"x", "Content-Encoding: zstd"), True)
    assert view["steps"][0]["outcome"] == "unknown"
    cut = gzip.compress(PAGE)[:-12]  # the recording kept only the start
    view = bodies.view(response(cut, "Content-Encoding: gzip", "Content-Type: text/plain"), True)
    assert view["steps"][0]["outcome"] == "incomplete" and view["decoded"]
    assert PAGE.decode().startswith(text_of(view)[:5])


@pytest.mark.parametrize("content_type, body, charset, source, text, escaped", [
    ("text/plain", "caf\u00e9".encode(), "utf-8", "default", "caf\u00e9", []),
    ("text/plain; charset=Shift_JIS", "\u65e5\u672c".encode("shift_jis"), "shift_jis",
     "content-type", "\u65e5\u672c", []),
    ("text/plain; charset=iso-8859-1", b"caf\xe9", "iso8859-1", "content-type", "caf\u00e9", []),
    # Not UTF-8: the bytes come back as bytes, not as U+FFFD and not as a Latin-1 guess.
    ("text/plain", b"a\xff\xfeb", "utf-8", "default", "ab", ["fffe"]),
    ("text/plain; charset=utf-8", b"caf\xc3", "utf-8", "content-type", "caf", ["c3"]),
    ("text/plain; charset=rot13", b"abc", "utf-8", "unknown", "abc", []),
    ("text/plain; charset=\"x-nonsense\"", b"abc", "utf-8", "unknown", "abc", []),
])
def test_one_text_decoding_rule(content_type, body, charset, source, text, escaped):
    view = bodies.view(response(body, f"Content-Type: {content_type}"), True)
    assert view["charset"]["charset"] == charset and view["charset"]["source"] == source
    assert text_of(view) == text
    assert [p["bytes"] for p in view["text"] if "bytes" in p] == escaped
    assert "\ufffd" not in text_of(view)


def test_json_is_reindented_exactly():
    sent = b'{"a":1.50,"a":[],"b":{"c":[1,2e3,"x\\"y",null]},"d":{}}'
    view = bodies.view(response(sent, "Content-Type: application/json"), True)
    assert view["json"]["pretty"] == (
        '{\n  "a": 1.50,\n  "a": [],\n  "b": {\n    "c": [\n      1,\n      2e3,\n'
        '      "x\\"y",\n      null\n    ]\n  },\n  "d": {}\n}')


# Before: nesting deeper than Python's parser goes was a RecursionError (a 500), and
# nesting it takes re-indented to gigabytes (two spaces a level, on every line).
DEEP = b"[" * 30_000 + b"]" * 30_000
WIDE = b"[" + (b"[" * 900 + b"0" + b"]" * 900 + b",") * 500 + b"0]"


@pytest.mark.parametrize("body, coding", [(DEEP, []), (gzip.compress(WIDE), ["gzip"])])
def test_json_too_deep_to_reindent_is_shown_as_text(body, coding):
    headers = ["Content-Type: application/json"] + [f"Content-Encoding: {c}" for c in coding]
    view = bodies.view(response(body, *headers), True)
    assert view["decoded"] and view["kind"] == "text" and "json" not in view
    assert len(text_of(view)) == view["size"]


@pytest.mark.parametrize("sent, code, line, column", [
    (b'{"a": 1,\n "b": 2\n "c": 3}', "expecting_comma", 3, 2),
    (b'{"a": }', "expecting_value", 1, 7),
    (b'{"a": NaN}', "bad_literal", 1, 7),
    (b'[1, 2] x', "extra_data", 1, 8),
    (b'{"a": "\xff"}', "not_text", 1, 1),
])
def test_a_json_syntax_error_is_located(sent, code, line, column):
    view = bodies.view(response(sent, "Content-Type: application/problem+json"), True)
    error = view["json"]["error"]
    assert (error["code"], error["line"], error["column"]) == (code, line, column)


def test_images_come_whole_and_binary_is_left_to_hex():
    png = bytes.fromhex("89504e470d0a1a0a") + b"\x00" * 10
    view = bodies.view(response(png, "Content-Type: image/png"), True)
    assert view["kind"] == "image" and base64.b64decode(view["body_b64"]) == png
    view = bodies.view(response(b"\x00\x01", "Content-Type: application/octet-stream"), True)
    assert view["kind"] == "binary" and "text" not in view
    # A request without a type: text when it is UTF-8 text.
    view = bodies.view(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\na=1", False)
    assert view["kind"] == "text" and text_of(view) == "a=1"
    assert bodies.view(b"HTTP/1.1 200 OK\r\nServer: x", True) == {"complete": False}
