"""The glossary behind the raw views' explanations (static/playground/data/glossary.json).

Hovering a header name, a status code or a part of the request line shows a short text in
English and Japanese and a link to the spec section. These tests keep that data honest:
every entry has both languages and a well-formed link, every status the server can send is
explained (found by scanning henaserver's source, so a new status fails here until someone
explains it), and every header a real browser sends or henaserver answers with is covered
(the response headers come from a real ``python -m henaserver``, not from a list).
See docs/glossary.md.
"""

from __future__ import annotations

import http.client
import json
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
GLOSSARY_PATH = REPO / "static" / "playground" / "data" / "glossary.json"
SERVER_SOURCE = REPO / "henaserver"

RFC_BASE = "https://www.rfc-editor.org/rfc/"
# Current specs only. RFC 7230-7235 and 2616 are obsoleted by RFC 9110-9112; RFC 2068 is
# allowed for Keep-Alive alone (nothing newer defines that field) and RFC 2295 for TCN.
ALLOWED_RFCS = {
    "rfc9110", "rfc9111", "rfc9112", "rfc6265", "rfc6454", "rfc6585", "rfc6797",
    "rfc6266", "rfc8288", "rfc9218", "rfc2295", "rfc2068",
}
OBSOLETE_RFCS = ("rfc2616", "rfc7230", "rfc7231", "rfc7232", "rfc7233", "rfc7234", "rfc7235")
SECTION = re.compile(r"^\d+(\.\d+)*$")
JAPANESE = re.compile(r"[\u3040-\u309f\u30a0-\u30ff\u4e00-\u9fff]")
# Header names and code stay in ASCII: no full-width letters or digits in the Japanese.
FULL_WIDTH_ALNUM = re.compile(r"[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
MAX_EN_CHARS = 280
MAX_JA_CHARS = 180

# Statuses found in the server's source: HTTPError(404, ...), Response(204, ...),
# page_response(301, ...), "HTTP/1.1 100 Continue" literals and "status = ..., 206".
STATUS_PATTERNS = (
    re.compile(r"\b(?:HTTPError|Response|page_response)\(\s*([1-5]\d\d)\b"),
    re.compile(r"HTTP/1\.[01] ([1-5]\d\d)\b"),
    re.compile(r"\bstatus\s*=[^\n]*?\b([1-5]\d\d)\b"),
)
# What the server sends today (a floor, in case the scan ever misses one) ...
SERVER_STATUSES = {100, 200, 204, 206, 301, 304, 400, 404, 405, 408, 413, 414, 416, 417,
                   431, 500, 501, 503, 505}
# ... and the statuses a learner meets elsewhere.
COMMON_STATUSES = {201, 302, 303, 307, 308, 401, 403, 409, 410, 411, 412, 415, 418, 422,
                   429, 502, 504}
REQUEST_LINE_PARTS = {"method", "request-target", "http-version", "status-line",
                      "reason-phrase", "crlf", "empty-line"}

# What Chrome sends over HTTP/1.1 when a page is opened from the address bar ...
CHROME_NAVIGATION = """\
GET / HTTP/1.1\r
Host: localhost:8080\r
Connection: keep-alive\r
sec-ch-ua: "Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"\r
sec-ch-ua-mobile: ?0\r
sec-ch-ua-platform: "Windows"\r
Upgrade-Insecure-Requests: 1\r
User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
Chrome/124.0.0.0 Safari/537.36\r
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,\
image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7\r
Sec-Fetch-Site: none\r
Sec-Fetch-Mode: navigate\r
Sec-Fetch-User: ?1\r
Sec-Fetch-Dest: document\r
Accept-Encoding: gzip, deflate, br, zstd\r
Accept-Language: ja,en-US;q=0.9,en;q=0.8\r
\r
"""
# ... and for the stylesheet on a reload (conditional, with Referer and a cookie).
CHROME_SUBRESOURCE_RELOAD = """\
GET /style.css HTTP/1.1\r
Host: localhost:8080\r
Connection: keep-alive\r
Cache-Control: max-age=0\r
sec-ch-ua: "Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"\r
sec-ch-ua-mobile: ?0\r
User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
Chrome/124.0.0.0 Safari/537.36\r
sec-ch-ua-platform: "Windows"\r
Accept: text/css,*/*;q=0.1\r
Sec-Fetch-Site: same-origin\r
Sec-Fetch-Mode: no-cors\r
Sec-Fetch-Dest: style\r
Referer: http://localhost:8080/\r
Accept-Encoding: gzip, deflate, br, zstd\r
Accept-Language: ja,en-US;q=0.9,en;q=0.8\r
Cookie: theme=dark\r
If-None-Match: "17f3a2b4c5d6e7f8-1a2b"\r
If-Modified-Since: Tue, 04 Jun 2024 09:30:00 GMT\r
\r
"""
# Other request headers a learner will type or see from browsers, and Apache's recorded
# reply to GET / with MultiViews (the playground's comparison recording).
OTHER_REQUEST_HEADERS = {"range", "if-range", "origin", "dnt", "pragma", "expect",
                         "authorization", "content-type", "content-length"}
APACHE_RESPONSE_HEADERS = {"date", "server", "content-location", "vary", "tcn",
                           "last-modified", "etag", "accept-ranges", "content-length",
                           "keep-alive", "connection", "content-type"}
BANNER = re.compile(r"http://(\[[0-9a-fA-F:.]+\]|[^\s/:]+):(\d+)/")
STARTUP_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


@pytest.fixture(scope="module")
def glossary() -> dict[str, Any]:
    return json.loads(GLOSSARY_PATH.read_text(encoding="utf-8"))


def all_entries(glossary: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return ([(f"headers[{key}]", entry) for key, entry in glossary["headers"].items()]
            + [(f"statuses[{key}]", entry) for key, entry in glossary["statuses"].items()]
            + [(f"request_line[{key}]", entry)
               for key, entry in glossary["request_line"].items()]
            + [(f"mistakes[{key}]", entry) for key, entry in glossary["mistakes"].items()]
            + [(f"hints[{key}]", entry) for key, entry in glossary["hints"].items()])


def header_names(head: str) -> set[str]:
    lines = head.split("\r\n")[1:]
    return {line.split(":", 1)[0].lower() for line in lines if line}


def server_statuses() -> set[int]:
    """Every status literal in henaserver's source."""
    found: set[int] = set()
    for path in sorted(SERVER_SOURCE.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for pattern in STATUS_PATTERNS:
            found.update(int(code) for code in pattern.findall(text))
    return found


# --- shape ---------------------------------------------------------------------------

def test_glossary_is_utf8_json_with_the_documented_top_level(glossary: dict[str, Any]) -> None:
    assert glossary["version"] == 1
    assert glossary["rfc_base"] == RFC_BASE
    assert set(glossary) >= {"headers", "statuses", "request_line"}
    assert len(glossary["headers"]) >= 40


def test_every_entry_explains_itself_in_english_and_japanese(
        glossary: dict[str, Any]) -> None:
    problems = []
    for where, entry in all_entries(glossary):
        en, ja = entry.get("en", ""), entry.get("ja", "")
        if not isinstance(en, str) or not en.strip():
            problems.append(f"{where}: no en")
        elif JAPANESE.search(en):
            problems.append(f"{where}: Japanese in en")
        elif len(en) > MAX_EN_CHARS:
            problems.append(f"{where}: en is {len(en)} chars (max {MAX_EN_CHARS})")
        if not isinstance(ja, str) or not JAPANESE.search(ja):
            problems.append(f"{where}: ja missing or has no Japanese characters")
        elif FULL_WIDTH_ALNUM.search(ja):
            problems.append(f"{where}: full-width letters or digits in ja")
        elif len(ja) > MAX_JA_CHARS:
            problems.append(f"{where}: ja is {len(ja)} chars (max {MAX_JA_CHARS})")
    assert not problems, "\n".join(problems)


def test_every_entry_links_to_a_current_spec_section(glossary: dict[str, Any]) -> None:
    problems = []
    for where, entry in all_entries(glossary):
        rfc = entry.get("rfc")
        if rfc is not None:
            if rfc not in ALLOWED_RFCS:
                problems.append(f"{where}: rfc {rfc!r} is not in the allowed set")
            if not SECTION.fullmatch(str(entry.get("section", ""))):
                problems.append(f"{where}: section {entry.get('section')!r} is not N(.N)*")
        else:
            url = entry.get("url")
            if not isinstance(url, str) or not url.startswith("https://") or len(url) < 12:
                problems.append(f"{where}: no rfc, so it needs an https:// url")
        for key in ("url", "see_also"):
            if key in entry and not str(entry[key]).startswith("https://"):
                problems.append(f"{where}: {key} is not https://")
        text = json.dumps(entry).lower()
        problems.extend(f"{where}: cites obsolete {old}" for old in OBSOLETE_RFCS
                        if old in text.replace(" ", ""))
    assert not problems, "\n".join(problems)


def test_rfc_links_are_built_from_rfc_base_and_section(glossary: dict[str, Any]) -> None:
    entry = glossary["headers"]["content-type"]
    link = glossary["rfc_base"] + entry["rfc"] + "#section-" + entry["section"]
    assert link == "https://www.rfc-editor.org/rfc/rfc9110#section-8.3"
    assert glossary["statuses"]["404"]["section"] == "15.5.5"
    assert glossary["statuses"]["418"]["section"] == "15.5.19"
    assert (glossary["statuses"]["431"]["rfc"], glossary["statuses"]["431"]["section"]) \
        == ("rfc6585", "5")


def test_header_keys_are_lower_case_field_names(glossary: dict[str, Any]) -> None:
    token = re.compile(r"^[a-z0-9!#$%&'*+.^_`|~-]+$")
    for key, entry in glossary["headers"].items():
        assert token.fullmatch(key), key
        assert entry["name"].lower() == key, (key, entry["name"])


def test_status_keys_are_three_digit_codes_with_the_reason_phrase(
        glossary: dict[str, Any]) -> None:
    from henaserver.http import reason_phrase

    for key, entry in glossary["statuses"].items():
        assert re.fullmatch(r"[1-5]\d\d", key), key
        assert entry["phrase"], key
        if int(key) in server_statuses():
            # What the learner sees on the wire must match what the glossary calls it.
            assert entry["phrase"] == reason_phrase(int(key)), key


def test_request_line_parts_are_explained(glossary: dict[str, Any]) -> None:
    assert set(glossary["request_line"]) >= REQUEST_LINE_PARTS


# --- coverage ------------------------------------------------------------------------

def test_the_source_scan_finds_the_servers_statuses() -> None:
    found = server_statuses()
    # A broken regex would find nothing and make the next test pass vacuously.
    assert {100, 200, 206, 304, 400, 404, 500, 503} <= found, sorted(found)


def test_every_status_the_server_can_send_is_explained(glossary: dict[str, Any]) -> None:
    needed = server_statuses() | SERVER_STATUSES | COMMON_STATUSES
    missing = sorted(code for code in needed if str(code) not in glossary["statuses"])
    assert not missing, f"explain these statuses in {GLOSSARY_PATH.name}: {missing}"


@pytest.mark.parametrize("head", [CHROME_NAVIGATION, CHROME_SUBRESOURCE_RELOAD],
                         ids=["navigation", "subresource-reload"])
def test_every_header_chrome_sends_is_explained(glossary: dict[str, Any], head: str) -> None:
    missing = sorted(header_names(head) - set(glossary["headers"]))
    assert not missing, f"explain these request headers: {missing}"


def test_other_common_headers_are_explained(glossary: dict[str, Any]) -> None:
    missing = sorted((OTHER_REQUEST_HEADERS | APACHE_RESPONSE_HEADERS)
                     - set(glossary["headers"]))
    assert not missing, f"explain these headers: {missing}"


class RunningServer:
    """``python -m henaserver --root ROOT --port 0``, as a learner starts it."""

    def __init__(self, root: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "henaserver", "--root", str(root), "--port", "0"],
            cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace")
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        self.host, self.port = self._wait_for_banner()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def _wait_for_banner(self) -> tuple[str, int]:
        while True:
            try:
                line = self.lines.get(timeout=STARTUP_TIMEOUT)
            except queue.Empty:
                self.stop()
                pytest.fail(f"no http://HOST:PORT/ line within {STARTUP_TIMEOUT}s:\n"
                            + "".join(self.output))
            if line is None:
                self.stop()
                pytest.fail("the server exited before listening:\n" + "".join(self.output))
            match = BANNER.search(line)
            if match:
                return match[1].strip("[]"), int(match[2])

    def exchange(self, method: str, path: str,
                 headers: dict[str, str] | None = None) -> tuple[int, set[str]]:
        """One request on a fresh connection: (status, lower-case response header names)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
        try:
            conn.request(method, path, headers=headers or {})
            response = conn.getresponse()
            response.read()
            return response.status, {name.lower() for name in response.headers}
        finally:
            conn.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)


@pytest.fixture(scope="module")
def server_replies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, set[str]]]:
    root = tmp_path_factory.mktemp("glossary-root")
    (root / "index.html").write_text("<!doctype html><title>hi</title><p>hello</p>\n")
    (root / "docs").mkdir()
    (root / "docs" / "index.html").write_text("<p>docs</p>\n")
    server = RunningServer(root)
    try:
        first = server.exchange("GET", "/")
        replies = {
            "GET /": first,
            "GET /missing": server.exchange("GET", "/missing.html"),
            "GET /docs": server.exchange("GET", "/docs"),
            "HEAD /": server.exchange("HEAD", "/"),
            "OPTIONS /": server.exchange("OPTIONS", "/"),
            "POST /": server.exchange("POST", "/", {"Content-Length": "0"}),
            "GET / Range": server.exchange("GET", "/", {"Range": "bytes=0-3"}),
            "GET / Range outside": server.exchange("GET", "/", {"Range": "bytes=9999-"}),
            "GET / If-Modified-Since": server.exchange(
                "GET", "/", {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}),
        }
    finally:
        server.stop()
    assert server.proc.returncode == 0, "".join(server.output)
    return replies


def test_every_header_henaserver_sends_is_explained(
        glossary: dict[str, Any], server_replies: dict[str, tuple[int, set[str]]]) -> None:
    assert server_replies["GET /"][0] == 200
    assert server_replies["GET /missing"][0] == 404
    names = set().union(*(names for _, names in server_replies.values()))
    # The scenarios really reached the code paths that add these fields.
    assert {"date", "server", "content-type", "content-length", "etag", "last-modified",
            "accept-ranges", "location", "allow", "content-range"} <= names, sorted(names)
    missing = sorted(names - set(glossary["headers"]))
    assert not missing, f"explain these response headers: {missing}"


def test_every_status_seen_from_henaserver_is_explained(
        glossary: dict[str, Any], server_replies: dict[str, tuple[int, set[str]]]) -> None:
    seen = {status for status, _ in server_replies.values()}
    assert {200, 204, 206, 301, 304, 404, 405, 416} <= seen, sorted(seen)
    missing = sorted(status for status in seen if str(status) not in glossary["statuses"])
    assert not missing, f"explain these statuses: {missing}"


# --- the checks' hints (playground/checking/hints.py) ---------------------------------

def test_every_hint_the_checks_give_is_explained(glossary: dict[str, Any]) -> None:
    """A failed check's hint links to its glossary entry (checks.js, ``#hint-<key>`` on
    the glossary page): every hint key has one, under the same key, and no entry is
    left for a hint that no longer exists."""
    from playground.checking import hints
    keys = set(hints.HINTS)
    assert keys >= {"bare-lf", "no-empty-line", "length-in-characters", "one-recv",
                    "no-loop", "never-closes"}
    assert set(glossary["hints"]) == keys
    for key, entry in glossary["hints"].items():
        assert entry.get("name"), key
        # The glossary page names it in Japanese for a Japanese reader.
        assert JAPANESE.search(entry.get("name_ja", "")) and entry["name_ja"] != entry["name"], key
        # The glossary links the RFC section the check's hint names (one source).
        link = glossary["rfc_base"] + entry["rfc"] + "#section-" + entry["section"]
        assert link == hints.HINTS[key].rfc[1], key
