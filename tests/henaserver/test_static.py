"""Static files over real HTTP: the tutorial page, types, validators, ranges, redirects."""

from __future__ import annotations

import email.utils
import functools
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from rawhttp import get
from support import (
    BIG_SIZE,
    INDEX_CSS,
    INDEX_HTML,
    TYPED_FILES,
    UNICODE_NAME,
    UNICODE_TEXT,
    ServerProcess,
    launch,
    png,
)

from henaserver.http import HTTPError
from henaserver.static import open_file


def media_type(value: str | None) -> tuple[str, dict[str, str]]:
    assert value is not None, "no Content-Type"
    kind, *params = [part.strip() for part in value.split(";")]
    return kind.lower(), {k.strip().lower(): v.strip().lower()
                          for k, _, v in (p.partition("=") for p in params)}


# --- the tutorial's page --------------------------------------------------------------

@pytest.mark.parametrize("path,content,kind", [
    ("/", INDEX_HTML, "text/html"),
    ("/index.html", INDEX_HTML, "text/html"),
    ("/index.css", INDEX_CSS, "text/css"),
    ("/logo.png", png(16, 16), "image/png"),
])
def test_tutorial_page_is_served_with_the_right_types(server: ServerProcess, path: str,
                                                      content: bytes, kind: str) -> None:
    response, body = server.fetch(path)
    assert response.status == 200
    assert body == content
    got, params = media_type(response.getheader("Content-Type"))
    assert got == kind
    if kind.startswith("text/"):
        assert params.get("charset") == "utf-8"
    assert response.getheader("Content-Length") == str(len(content))


def test_png_fixture_is_a_real_png() -> None:
    data = png(16, 16)
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82")


@pytest.mark.parametrize("name", sorted(TYPED_FILES))
def test_content_types(server: ServerProcess, name: str) -> None:
    content, kind = TYPED_FILES[name]
    response, body = server.fetch(f"/types/{name}")
    assert response.status == 200
    assert body == content
    got, params = media_type(response.getheader("Content-Type"))
    assert got == kind
    if kind.startswith("text/"):
        assert params.get("charset") == "utf-8", response.getheader("Content-Type")
    if kind in ("image/png", "image/jpeg", "application/octet-stream", "application/wasm",
                "font/woff2", "image/webp"):
        assert "charset" not in params, response.getheader("Content-Type")


def test_standard_headers(server: ServerProcess, docroot: Path) -> None:
    response, body = server.fetch("/index.css")
    assert response.status == 200
    date = email.utils.parsedate_to_datetime(response.getheader("Date") or "")
    assert date.tzinfo is not None and response.getheader("Date", "").endswith(" GMT")
    assert abs(date.timestamp() - time.time()) < 300
    assert response.getheader("Server")
    assert response.getheader("Content-Length") == str(len(INDEX_CSS))
    mtime = os.stat(docroot / "index.css").st_mtime
    assert response.getheader("Last-Modified") == email.utils.formatdate(mtime, usegmt=True)
    etag = response.getheader("ETag") or ""
    assert etag.removeprefix("W/").startswith('"') and etag.endswith('"') and len(etag) > 2


def test_head_has_the_same_headers_and_no_body(server: ServerProcess) -> None:
    # Pipelined GET after HEAD: if HEAD sent any body bytes, the second response would
    # start with them instead of a status line.
    with server.raw() as conn:
        conn.send(get("/logo.png", method="HEAD") + get("/index.css"))
        head = conn.read_response("HEAD")
        after = conn.read_response()
    assert head.status == 200 and head.body == b""
    assert head.header("Content-Length") == str(len(png(16, 16)))
    assert media_type(head.header("Content-Type"))[0] == "image/png"
    assert head.header("ETag") and head.header("Last-Modified")
    assert after.status == 200 and after.body == INDEX_CSS


def test_head_matches_get(server: ServerProcess) -> None:
    with server.raw() as conn:
        got = conn.request(get("/index.html"))
        head = conn.request(get("/index.html", method="HEAD"), "HEAD")
    drop = {"date"}
    assert ([h for h in got.headers if h[0].lower() not in drop]
            == [h for h in head.headers if h[0].lower() not in drop])


# --- directories, redirects, names ----------------------------------------------------

def test_directory_serves_its_index(server: ServerProcess) -> None:
    response, body = server.fetch("/sub/")
    assert response.status == 200
    assert body == b"<!DOCTYPE html><h1>sub index</h1>\n"
    assert media_type(response.getheader("Content-Type"))[0] == "text/html"


@pytest.mark.parametrize("target,path,query", [
    ("/sub", "/sub/", ""),
    ("/sub?x=1&y=%20", "/sub/", "x=1&y=%20"),
    ("/sub?", "/sub/", ""),
])
def test_directory_without_slash_redirects(server: ServerProcess, target: str, path: str,
                                           query: str) -> None:
    with server.raw() as conn:
        response = conn.request(get(target))
    assert response.status == 301
    location = urlsplit(response.header("Location") or "")
    assert (location.path, location.query) == (path, query)
    assert response.header("Content-Length") == str(len(response.body))


def test_unicode_directory_redirect_keeps_the_encoded_path(server: ServerProcess) -> None:
    encoded = "/" + quote("ディレクトリ")
    with server.raw() as conn:
        response = conn.request(get(encoded))
        assert response.status == 301, response.raw
        assert urlsplit(response.header("Location") or "").path == encoded + "/"
        followed = conn.request(get(encoded + "/"))
    assert followed.status == 200
    assert followed.body == b"<h1>unicode dir</h1>\n"


def test_redirect_location_cannot_be_injected(server: ServerProcess) -> None:
    # A decoded CR LF in the path must not become a header line of the redirect.
    with server.raw() as conn:
        response = conn.request(get("/sub%0d%0aX-Injected:%20yes"))
    assert response.status in (400, 404)
    assert response.header("X-Injected") is None


def test_directory_without_index_is_not_listed(server: ServerProcess) -> None:
    response, body = server.fetch("/noindex/")
    assert response.status in (403, 404)
    assert b"hidden-name" not in body


def test_query_is_stripped(server: ServerProcess) -> None:
    response, body = server.fetch("/index.css?v=3&x=/../../etc/passwd")
    assert response.status == 200
    assert body == INDEX_CSS


@pytest.mark.parametrize("target", [
    "/" + quote(UNICODE_NAME),
    "/" + quote(UNICODE_NAME).lower(),  # lower-case hex digits mean the same (RFC 3986)
])
def test_percent_decoded_unicode_name_with_space(server: ServerProcess, target: str) -> None:
    response, body = server.fetch(target)
    assert response.status == 200
    assert body == UNICODE_TEXT
    got, params = media_type(response.getheader("Content-Type"))
    assert (got, params.get("charset")) == ("text/plain", "utf-8")


def test_percent_encoded_ordinary_characters(server: ServerProcess) -> None:
    response, body = server.fetch("/%69ndex%2Ecss")
    assert response.status == 200
    assert body == INDEX_CSS


def test_symlink_inside_the_root_is_served(server: ServerProcess) -> None:
    response, body = server.fetch("/link-in.css")
    assert response.status == 200
    assert body == INDEX_CSS


def test_friendly_404_page(server: ServerProcess, docroot: Path) -> None:
    response, body = server.fetch("/no/such/page.html")
    assert response.status == 404
    assert media_type(response.getheader("Content-Type"))[0] == "text/html"
    assert body.lstrip().lower().startswith((b"<!doctype html", b"<html"))
    assert b"404" in body and b"Not Found" in body
    assert str(docroot).encode() not in body, "404 page leaks the document root"
    assert response.getheader("Content-Length") == str(len(body))


def test_404_keeps_the_connection_open(server: ServerProcess) -> None:
    with server.raw() as conn:
        first = conn.request(get("/missing"))
        second = conn.request(get("/index.css"))
    assert first.status == 404 and (first.header("Connection") or "").lower() != "close"
    assert second.status == 200 and second.body == INDEX_CSS


# --- conditional requests (RFC 9110 section 13) ---------------------------------------

@pytest.fixture(scope="module")
def validators(server: ServerProcess) -> tuple[str, str]:
    response, _ = server.fetch("/index.css")
    etag, modified = response.getheader("ETag"), response.getheader("Last-Modified")
    assert etag and modified
    return etag, modified


def long_ago() -> str:
    return email.utils.formatdate(time.time() - 10 * 365 * 86400, usegmt=True)


@pytest.mark.parametrize("make_headers,status", [
    (lambda etag, lm: {"If-None-Match": etag}, 304),
    (lambda etag, lm: {"If-None-Match": "*"}, 304),
    (lambda etag, lm: {"If-None-Match": f'"other", {etag}'}, 304),
    (lambda etag, lm: {"If-None-Match": "W/" + etag.removeprefix("W/")}, 304),
    (lambda etag, lm: {"If-None-Match": '"other"'}, 200),
    (lambda etag, lm: {"If-Modified-Since": lm}, 304),
    (lambda etag, lm: {"If-Modified-Since": email.utils.formatdate(time.time() + 3600,
                                                                   usegmt=True)}, 304),
    (lambda etag, lm: {"If-Modified-Since": long_ago()}, 200),
    (lambda etag, lm: {"If-Modified-Since": "not a date"}, 200),
    # If-None-Match wins over If-Modified-Since (RFC 9110 section 13.1.3).
    (lambda etag, lm: {"If-None-Match": '"other"', "If-Modified-Since": lm}, 200),
    (lambda etag, lm: {"If-None-Match": etag, "If-Modified-Since": long_ago()}, 304),
], ids=["inm-match", "inm-star", "inm-list", "inm-weak", "inm-other", "ims-same",
        "ims-future", "ims-old", "ims-invalid", "inm-wins-200", "inm-wins-304"])
def test_conditional_get(server: ServerProcess, validators: tuple[str, str],
                         make_headers: object, status: int) -> None:
    etag, modified = validators
    assert callable(make_headers)
    response, body = server.fetch("/index.css", headers=make_headers(etag, modified))
    assert response.status == status
    if status == 304:
        assert body == b""
        assert response.getheader("ETag") == etag
    else:
        assert body == INDEX_CSS


def test_304_has_no_body_on_the_wire(server: ServerProcess, validators: tuple[str, str]) -> None:
    etag, _ = validators
    with server.raw() as conn:
        conn.send(get("/index.css", extra=f"If-None-Match: {etag}\r\n") + get("/index.css"))
        not_modified = conn.read_response()
        after = conn.read_response()
    assert not_modified.status == 304 and not_modified.body == b""
    assert after.status == 200 and after.body == INDEX_CSS


def test_conditional_head(server: ServerProcess, validators: tuple[str, str]) -> None:
    etag, _ = validators
    with server.raw() as conn:
        response = conn.request(get("/index.css", method="HEAD",
                                    extra=f"If-None-Match: {etag}\r\n"), "HEAD")
        after = conn.request(get("/index.css"))
    assert response.status == 304
    assert after.body == INDEX_CSS


def test_etag_changes_when_the_file_changes(server: ServerProcess, docroot: Path) -> None:
    path = docroot / "mutable" / "changing.txt"
    path.write_bytes(b"version one\n")
    first, body1 = server.fetch("/mutable/changing.txt")
    path.write_bytes(b"version two, longer\n")
    second, body2 = server.fetch("/mutable/changing.txt")
    assert (body1, body2) == (b"version one\n", b"version two, longer\n")
    assert first.getheader("ETag") != second.getheader("ETag")
    revalidated, body3 = server.fetch("/mutable/changing.txt",
                                      headers={"If-None-Match": first.getheader("ETag") or ""})
    assert revalidated.status == 200 and body3 == b"version two, longer\n"


# --- ranges (RFC 9110 section 14) -----------------------------------------------------

@functools.cache
def big_bytes(docroot: Path) -> bytes:
    return (docroot / "big.bin").read_bytes()


@pytest.mark.parametrize("spec,start,end", [
    ("bytes=0-9", 0, 9),
    ("bytes=10-", 10, len(INDEX_CSS) - 1),
    ("bytes=-10", len(INDEX_CSS) - 10, len(INDEX_CSS) - 1),
    ("bytes=5-5", 5, 5),
    ("bytes=3-100000", 3, len(INDEX_CSS) - 1),
    ("bytes=-100000", 0, len(INDEX_CSS) - 1),
])
def test_single_range(server: ServerProcess, spec: str, start: int, end: int) -> None:
    response, body = server.fetch("/index.css", headers={"Range": spec})
    assert response.status == 206
    assert body == INDEX_CSS[start:end + 1]
    assert response.getheader("Content-Range") == f"bytes {start}-{end}/{len(INDEX_CSS)}"
    assert response.getheader("Content-Length") == str(end - start + 1)


@pytest.mark.parametrize("spec", [f"bytes={len(INDEX_CSS)}-", "bytes=100000-100010",
                                  "bytes=-0"])
def test_unsatisfiable_range(server: ServerProcess, spec: str) -> None:
    response, body = server.fetch("/index.css", headers={"Range": spec})
    assert response.status == 416
    assert response.getheader("Content-Range") == f"bytes */{len(INDEX_CSS)}"
    assert INDEX_CSS not in body


@pytest.mark.parametrize("spec", ["bytes=9-5", "items=0-5", "bytes=a-b", "bytes=0-1,5-6",
                                  "bytes 0-5"])
def test_unusable_range_is_ignored(server: ServerProcess, spec: str) -> None:
    # RFC 9110 section 14.2: a server MAY ignore Range; an invalid or multi-range request
    # then gets the whole representation.
    response, body = server.fetch("/index.css", headers={"Range": spec})
    assert response.status == 200
    assert body == INDEX_CSS


def test_if_range(server: ServerProcess, validators: tuple[str, str]) -> None:
    etag, modified = validators
    cases = [({"If-Range": etag}, 206), ({"If-Range": '"stale"'}, 200),
             ({"If-Range": modified}, 206), ({"If-Range": long_ago()}, 200)]
    for extra, status in cases:
        response, body = server.fetch("/index.css", headers={"Range": "bytes=0-3", **extra})
        assert response.status == status, extra
        assert body == (INDEX_CSS[:4] if status == 206 else INDEX_CSS), extra


def test_range_is_ignored_on_head(server: ServerProcess) -> None:
    # RFC 9110 section 14.2: range handling is defined only for GET; others ignore Range.
    with server.raw() as conn:
        response = conn.request(get("/index.css", method="HEAD", extra="Range: bytes=0-3\r\n"),
                                "HEAD")
        after = conn.request(get("/index.css"))
    assert response.status == 200
    assert response.header("Content-Range") is None
    assert response.header("Content-Length") == str(len(INDEX_CSS))
    assert after.body == INDEX_CSS


# --- large files ----------------------------------------------------------------------

def test_large_file_whole(server: ServerProcess, docroot: Path) -> None:
    with server.raw(timeout=20) as conn:
        response = conn.request(get("/big.bin"))
        again = conn.request(get("/index.css"))
    assert response.status == 200
    assert len(response.body) == BIG_SIZE
    assert hashlib.sha256(response.body).digest() == hashlib.sha256(big_bytes(docroot)).digest()
    assert again.body == INDEX_CSS


@pytest.mark.parametrize("start,end", [(0, 0), (1_000_000, 1_999_999),
                                       (BIG_SIZE - 70_000, BIG_SIZE - 1)])
def test_large_file_range(server: ServerProcess, docroot: Path, start: int, end: int) -> None:
    response, body = server.fetch("/big.bin", headers={"Range": f"bytes={start}-{end}"})
    assert response.status == 206
    assert response.getheader("Content-Range") == f"bytes {start}-{end}/{BIG_SIZE}"
    assert body == big_bytes(docroot)[start:end + 1]


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


def test_large_file_is_streamed_not_read_into_memory(start_server, tmp_path: Path) -> None:
    # A 64 MiB sparse file costs no disk; reading it whole would raise the server's peak
    # resident memory by 64 MiB. Streaming (sendfile) keeps the peak almost unchanged.
    root = tmp_path / "bigroot"
    root.mkdir()
    size = 64 * 1024 * 1024
    with open(root / "huge.bin", "wb") as f:
        f.truncate(size)
    server = start_server(root, "--quiet")
    with server.raw() as conn:
        assert conn.request(get("/missing")).status == 404  # warm up every code path
    before = peak_rss_kib(server.proc.pid)
    with server.raw(timeout=30) as conn:
        conn.send(get("/huge.bin"))
        head = conn.read_until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        remaining = size
        while remaining:
            chunk = conn.read_exact(min(remaining, 1 << 20))
            assert chunk.count(0) == len(chunk)
            remaining -= len(chunk)
    grew = peak_rss_kib(server.proc.pid) - before
    assert grew < 16 * 1024, f"peak RSS grew by {grew} KiB while sending a 64 MiB file"


# --- a client's bytes never make a 500 (issue 12; what fuzz_static.py found) ----------

HUGE = "7" * 5000  # more digits than int() converts (4,300)
ZEROS = "0" * 5000


@pytest.mark.parametrize("spec,status,first,last", [
    (f"bytes={HUGE}-", 416, 0, 0),  # starts past the end of any file
    (f"bytes={HUGE}-{HUGE}", 416, 0, 0),
    (f"bytes=0-{HUGE}", 206, 0, len(INDEX_CSS) - 1),  # "to the end" (RFC 9110 14.1.1)
    (f"bytes=-{HUGE}", 206, 0, len(INDEX_CSS) - 1),  # a suffix longer than the file
    (f"bytes={ZEROS}5-{ZEROS}9", 206, 5, 9),  # leading zeros are just zeros
    (f"bytes=-{ZEROS}", 416, 0, 0),
], ids=["huge-first", "huge-both", "huge-last", "huge-suffix", "zeros", "zero-suffix"])
def test_range_numbers_of_any_length(server: ServerProcess, spec: str, status: int,
                                     first: int, last: int) -> None:
    with server.raw() as conn:
        response = conn.request(get("/index.css", extra=f"Range: {spec}\r\n"))
        after = conn.request(get("/index.css"))  # and the connection still serves
    assert response.status == status, response.body[:300]
    if status == 416:
        assert response.header("Content-Range") == f"bytes */{len(INDEX_CSS)}"
    else:
        assert response.body == INDEX_CSS[first:last + 1]
    assert after.status == 200 and after.body == INDEX_CSS


@pytest.mark.parametrize("header", [
    "If-Modified-Since: Sat, 01 Jan 99999999999999999999 00:00:00 GMT",  # overflows
    "If-Modified-Since: Sat, 01 Jan 10000 00:00:00 GMT",  # past datetime's year 9999
    "If-Modified-Since: Mon, 32 Jan 2000 25:61:61 GMT",
    "If-Modified-Since: Tue, 14 Nov 2023 22:13:20 +9999",  # offset over a day
    "If-Modified-Since: " + "9" * 5000,
    "If-Modified-Since:",
    "If-Range: Sat, 01 Jan 99999999999999999999 00:00:00 GMT",
])
def test_an_invalid_date_is_ignored(server: ServerProcess, header: str) -> None:
    # RFC 9110 section 13.1.3: a recipient MUST ignore an If-Modified-Since that is not a
    # valid HTTP-date, so the answer is the whole file (nginx: 200 too).
    # An If-Range that is not our Last-Modified means "send it all" (section 13.1.5).
    extra = header + "\r\n" + ("Range: bytes=0-1\r\n" if "Range" in header else "")
    with server.raw() as conn:
        response = conn.request(get("/index.css", extra=extra))
    assert response.status == 200, response.body[:300]
    assert response.body == INDEX_CSS


def test_absolute_form_with_a_broken_host_is_a_400(server: ServerProcess) -> None:
    # Found by fuzz_static.py: urlsplit raises ValueError on an unbalanced "[".
    with server.raw() as conn:
        response = conn.request(get("http://p]age.css"))
        after = conn.request(get("/index.css"))
    assert response.status == 400 and b"absolute-form" in response.body
    assert after.body == INDEX_CSS


# --- every redirect names a path on this host (issue 12 item 6) -----------------------

UNICODE_DIR = "/" + quote("ディレクトリ")


@pytest.mark.parametrize("target,location", [
    ("/sub", "/sub/"),
    ("//sub", "/sub/"),  # was "//sub/": a browser reads it as the host "sub"
    ("///sub?x=1", "/sub/?x=1"),
    ("/.//sub", "/./sub/"),
    ("//./sub/.", "/./sub/./"),
    ("http://x//sub", "/sub/"),
    ("HTTP://x///sub?a=%2F", "/sub/?a=%2F"),
    ("/" + UNICODE_DIR, UNICODE_DIR + "/"),
    ("//mutable/sub-link", "/mutable/sub-link/"),  # a symlink to a directory inside
])
def test_every_redirect_is_a_path_on_this_host(server: ServerProcess, docroot: Path,
                                               target: str, location: str) -> None:
    link = docroot / "mutable" / "sub-link"
    if not link.is_symlink():
        link.symlink_to(docroot / "sub", target_is_directory=True)
    with server.raw() as conn:
        response = conn.request(get(target))
        assert response.status == 301, response.body[:300]
        got = response.header("Location") or ""
        assert got == location
        assert got.startswith("/") and "//" not in got
        followed = conn.request(get(got))
    assert followed.status == 200 and b"<h1>" in followed.body  # the directory's index


# --- what a 304 carries (issue 12 item 8) ---------------------------------------------

@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("condition", ["If-None-Match", "If-Modified-Since"])
def test_304_carries_only_the_fields_rfc_9110_lists(server: ServerProcess,
                                                    validators: tuple[str, str],
                                                    method: str, condition: str) -> None:
    # RFC 9110 section 15.4.5: of Cache-Control, Content-Location, Date, ETag, Expires
    # and Vary, those a 200 would carry (here Date and ETag), and no other representation
    # metadata: no Content-Type, Content-Length or Accept-Ranges, and no Last-Modified,
    # which only helps when there is no ETag. Server is about the server, not the file.
    etag, modified = validators
    value = etag if condition == "If-None-Match" else modified
    with server.raw() as conn:
        response = conn.request(get("/index.css", method=method,
                                    extra=f"{condition}: {value}\r\n"), method)
        after = conn.request(get("/index.css"))
    assert response.status == 304 and response.body == b""
    assert sorted(name for name, _ in response.headers) == ["Date", "ETag", "Server"]
    assert response.header("ETag") == etag
    assert after.status == 200 and after.body == INDEX_CSS


# --- preconditions and strict dates (RFC 9110 sections 5.6.7, 13.1 and 13.2.2) --------

def other_forms(http_date: str) -> tuple[str, str]:
    """The same instant as an rfc850-date and an asctime-date (section 5.6.7)."""
    when = email.utils.parsedate_to_datetime(http_date)
    return (when.strftime("%A, %d-%b-%y %H:%M:%S GMT"),
            when.strftime("%a %b ") + f"{when.day:2d}" + when.strftime(" %H:%M:%S %Y"))


@pytest.mark.parametrize("make_headers,status", [
    (lambda etag, lm: "If-Match: " + etag, 200),
    (lambda etag, lm: "If-Match: *", 200),
    (lambda etag, lm: 'If-Match: "other", ' + etag, 200),
    (lambda etag, lm: 'If-Match: "other"', 412),
    (lambda etag, lm: "If-Match: W/" + etag, 412),  # a weak tag never matches strongly
    (lambda etag, lm: "If-Unmodified-Since: " + lm, 200),
    (lambda etag, lm: "If-Unmodified-Since: " + long_ago(), 412),
    (lambda etag, lm: "If-Unmodified-Since: yesterday", 200),  # invalid: ignored
    # If-Match is evaluated first; with it, If-Unmodified-Since is ignored (13.2.2).
    (lambda etag, lm: f"If-Match: {etag}\r\nIf-Unmodified-Since: {long_ago()}", 200),
    (lambda etag, lm: f'If-Match: "other"\r\nIf-None-Match: {etag}', 412),
    # Only exactly one valid HTTP-date counts (13.1.3); all three forms are dates.
    (lambda etag, lm: f"If-Modified-Since: {lm}, {lm}", 200),
    (lambda etag, lm: f"If-Modified-Since: {lm}\r\nIf-Modified-Since: {lm}", 200),
    (lambda etag, lm: f"If-Modified-Since: {lm} and more", 200),
    (lambda etag, lm: f"If-Modified-Since: {lm.upper()}", 200),  # HTTP-date is case-sensitive
    (lambda etag, lm: f"If-Modified-Since: {other_forms(lm)[0]}", 304),
    (lambda etag, lm: f"If-Modified-Since: {other_forms(lm)[1]}", 304),
], ids=["im-match", "im-star", "im-list", "im-other", "im-weak", "ius-same", "ius-old",
        "ius-invalid", "im-before-ius", "im-before-inm", "ims-list", "ims-two-lines",
        "ims-trailing", "ims-upper", "ims-rfc850", "ims-asctime"])
def test_preconditions(server: ServerProcess, validators: tuple[str, str],
                       make_headers: object, status: int) -> None:
    assert callable(make_headers)
    extra = make_headers(*validators) + "\r\n"
    with server.raw() as conn:
        response = conn.request(get("/index.css", extra=extra))
        after = conn.request(get("/index.css"))
    assert response.status == status, (extra, response.body[:300])
    assert response.body == {200: INDEX_CSS, 304: b""}.get(status, response.body)
    assert after.status == 200  # a 412 keeps the connection


# --- a directory named index.html is not a page, nor a reason to redirect -------------

@pytest.fixture(scope="module")
def index_dirs_server(tmp_path_factory: pytest.TempPathFactory,
                      outside: Path) -> Iterator[ServerProcess]:
    """A root whose index.html, and sub/index.html, are directories; "linked" is a
    symlink to "sub", and "via-link" a directory whose index.html is a symlink to one."""
    root = tmp_path_factory.mktemp("index-dirs")
    (root / "index.html").mkdir()
    (root / "sub" / "index.html").mkdir(parents=True)
    (root / "linked").symlink_to(root / "sub", target_is_directory=True)
    (root / "via-link").mkdir()
    (root / "via-link" / "index.html").symlink_to(root / "sub", target_is_directory=True)
    server = launch(root)
    yield server
    server.finish()


@pytest.mark.parametrize("target", [
    "/", "//", "//?q", "/.", "/sub/", "/sub//", "/sub/?q", "//sub/", "/linked/",
    "/linked//", "/via-link/",
])
def test_a_directory_named_index_html_is_404_not_a_redirect(
        index_dirs_server: ServerProcess, target: str) -> None:
    # The URL already names a directory (it ends in "/"): its index.html is what is
    # asked for, and a directory there is no page. A redirect to the same URL plus "/"
    # was "//" (another host to a browser) or a loop ("/sub/" -> "/sub//" -> ...).
    with index_dirs_server.raw() as conn:
        response = conn.request(get(target))
    assert response.status == 404, (response.status, response.header("Location"))
    assert response.header("Location") is None


@pytest.mark.parametrize("target,location", [
    ("/sub", "/sub/"), ("/linked", "/linked/"), ("/index.html", "/index.html/"),
])
def test_a_directory_without_its_slash_still_redirects(
        index_dirs_server: ServerProcess, target: str, location: str) -> None:
    with index_dirs_server.raw() as conn:
        response = conn.request(get(target))
        assert response.status == 301 and response.header("Location") == location
        assert conn.request(get(location)).status == 404  # and no loop after it


# --- the file opened is the file checked (no symlink or FIFO swapped in) -------------

@pytest.mark.parametrize("kind", ["symlink", "fifo", "directory", "missing"])
def test_a_name_swapped_after_the_lookup_is_a_404_not_followed(tmp_path: Path,
                                                              kind: str) -> None:
    # resolve_path checks each name with lstat, and the file is opened a moment later:
    # what is there by then is opened without following a symlink, without blocking on
    # a FIFO, and must be a regular file (its stat is the open descriptor's).
    (tmp_path / "secret").write_bytes(b"outside")
    path = tmp_path / "page.html"
    if kind == "symlink":
        path.symlink_to(tmp_path / "secret")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    with pytest.raises(HTTPError) as refused:
        open_file(str(path))
    assert refused.value.status == 404 and not refused.value.close
