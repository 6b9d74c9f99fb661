"""A pasted curl command becomes the bytes curl sends: each command of the table is run
by the real curl against a listening socket, and compose/curl.py must give the same
bytes (the User-Agent's version taken from that curl). Then the refusals, by name."""

from __future__ import annotations

import re
import shlex
import shutil
import socket
import subprocess

import pytest
from testkit.services import unavailable

from playground.compose import curl

# Each command as a learner pastes it; URL stands for http://127.0.0.1:<port>, PORT for
# the port alone.
COMMANDS = [
    "curl URL/",
    "curl URL/a/b?x=1#fragment",
    "curl -d a=b -d c=d URL/form",
    "curl -sSL -H 'X-Trace: 1' -H 'Accept: text/css' URL/index.css",
    "curl -X PUT --data-binary 'raw body' -H 'Content-Type: text/plain' URL/put",
    "curl -I URL/",
    "curl -G -d q=1 -d r=2 URL/search",
    "curl -0 URL/old",
    "curl -A 'my agent/1.0' -e http://example.test/ -b 'k=v; k2=v2' URL/",
    "curl -u alice:secret --compressed URL/private",
    "curl --json '{\"a\": 1}' URL/api",
    "curl --json '{}' -H 'Accept:' URL/api",
    "curl -H 'User-Agent: x' -H 'Host: example.test' -H 'X-Empty;' URL/",
    "curl --data-urlencode 'name=a b&c' --data-urlencode '=é' URL/",
    "curl -XPOST -v URL/ -o /dev/null",
    "curl 'URL/q?a=1' \\\n  -H $'X-Esc: tab\\there' \\\n  --data-raw $'line1\\nline2'",
    "curl -d 'x' -H 'Content-Length: 1' URL/",
    "curl http://al%40ice:pw@127.0.0.1:PORT/in-url",
]


def _real_curl_version() -> str:
    if not shutil.which("curl"):
        unavailable("curl", "apt-get install curl")
    first = subprocess.run(["curl", "--version"], capture_output=True, text=True,
                           check=True).stdout.split()
    return first[1]


def _bash_words(command: str) -> list[str]:
    """The words bash gives curl for ``command`` (the real shell's quoting rules)."""
    out = subprocess.run(["bash", "-c", command.replace("curl ", "printf '%s\\0' ", 1)],
                         capture_output=True, check=True).stdout
    return [word.decode() for word in out.split(b"\0")[:-1]]


def _more(conn: socket.socket, so_far: bytes) -> bytes:
    """The next bytes curl sent; a failure if it closed instead (recv would give b""
    at once, for ever, and the read loop would never end)."""
    data = conn.recv(65536)
    assert data, f"curl closed the connection after {so_far!r}"
    return data


def _sent_by_real_curl(command: str) -> tuple[bytes, str]:
    """The bytes the real curl sends for ``command`` (URL replaced by a listening
    socket's), and the command as run. Read until the head and its Content-Length of
    body are in (a 204 answers it): nothing is timed."""
    with socket.create_server(("127.0.0.1", 0)) as server:  # the OS reserves the port
        port = server.getsockname()[1]
        command = command.replace("URL", f"http://127.0.0.1:{port}").replace("PORT", str(port))
        child = subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-m", "20",
                                  *_bash_words(command)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            server.settimeout(20)
            conn, _ = server.accept()
            with conn:
                conn.settimeout(20)
                data = b""
                while b"\r\n\r\n" not in data:
                    data += _more(conn, data)
                head, _, body = data.partition(b"\r\n\r\n")
                match = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
                # A Content-Length given by hand may not match the body: read what the
                # body is, never more than the command holds.
                want = min(int(match.group(1)), len(command)) if match else 0
                while len(body) < want and b"Content-Length: 1\r" not in head:
                    body += _more(conn, body)
                conn.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        finally:
            child.wait(30)
    return head + b"\r\n\r\n" + body, command


@pytest.mark.parametrize("command", COMMANDS)
def test_the_bytes_are_those_the_real_curl_sends(command):
    version = _real_curl_version()
    sent, command = _sent_by_real_curl(command)
    ours, _ = curl.request_bytes(command, version=version)
    assert ours == sent


def test_ignored_options_are_named():
    raw, ignored = curl.request_bytes("curl -sSv -L -o out.html http://localhost:8001/")
    assert raw == (b"GET / HTTP/1.1\r\nHost: localhost:8001\r\nUser-Agent: curl/"
                   + curl.CURL_VERSION.encode() + b"\r\nAccept: */*\r\n\r\n")
    assert ignored == ["-s", "-S", "-v", "-L", "-o out.html"]


@pytest.mark.parametrize(("command", "words"), [
    ("", "paste a curl command"),
    ("curl", "paste a curl command"),
    ("curl -F a=b http://h/", "-F is not supported"),
    ("curl -d @file.txt http://h/", "reads a file"),
    ("curl -b cookies.txt http://h/", "cookie file"),
    ("curl -u alice http://h/", "no password"),
    ("curl https://example.com/", "plain HTTP"),
    ("curl 'http://h/a b'", "contains a space"),
    ("curl -I -d x http://h/", "curl refuses this too"),
    ("curl 'http://h/", "cannot be split"),
    ("curl -H", "-H needs a value"),
    ("curl -H 'no colon' http://h/", "is not a header"),
    ("curl http://h:99999/", "bad port"),
    ("curl 'http://[::1/'", "bad host"),  # before: a 500 (ValueError), as the next
    ("curl -H $'X: \\ud800' http://h/", "not a character"),  # (UnicodeEncodeError)
    ("curl http://a/ http://b/", "one URL at a time"),
    ("curl -X GET", "has no URL"),
    ("curl " + "x" * curl.MAX_COMMAND_CHARS, "longer than"),
])
def test_what_cannot_be_turned_into_bytes_is_named(command, words):
    with pytest.raises(curl.CurlError) as caught:
        curl.request_bytes(command)
    assert words in str(caught.value)


def test_split_as_bash_would():
    assert curl.words("curl -H $'A: \\x41\\'' 'b c' \\\n d") == ["-H", "A: A'", "b c", "d"]
    assert shlex.join(curl.words("curl.exe x")) == "x"
    assert curl.words("curl $'\\x\\u'") == ["\\x\\u"]  # no digits: as written (was a 500)
