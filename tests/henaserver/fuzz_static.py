"""Fuzz the static-file handler with atheris: every input is a request head.

    cd tests/henaserver && mkdir -p /tmp/new-inputs
    ../../.venv/bin/python fuzz_static.py -runs=1000000 -max_len=12000 \
        -dict=fuzz/static.dict /tmp/new-inputs fuzz/static

Each input is parsed by the real parser (``parse_head``); what it refuses is the parser's
business and ends the run. A head it accepts goes to ``StaticFiles`` over a small
document root built here (files at several depths, a file over the small-file limit,
symlinks in and out of the root), and the answer must hold:

- the handler returns a ``Response`` or raises ``HTTPError`` with a 4xx status: any other
  exception is a crash (the server would answer 500 for the client's bytes);
- nothing from outside the root is ever in a body;
- a redirect's Location is one absolute path ("/..."), never "//..." (another host);
- a 304 carries only ETag (RFC 9110 section 15.4.5);
- Content-Length and Content-Range agree with the bytes sent;
- the head serialises (``response_head``) with no CR or LF inside a field.

The seeds in ``fuzz/static/`` are readable request heads, one per file; what fuzzing
found is kept there too, so every run replays it first (libFuzzer writes new inputs to
the FIRST directory given, so give a scratch directory before the seeds). Files get
a fixed modification time, so an ETag or date in a seed stays valid; ``fuzz/static.dict``
gives libFuzzer the words of these headers. ``test_fuzz_static.py`` runs a bounded
number of iterations of this script.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["henaserver"]):
    from henaserver.http import HTTPError, Request, parse_head
    from henaserver.limits import DEFAULT_LIMITS
    from henaserver.response import Response, response_head
    from henaserver.static import StaticFiles

SECRET = b"FUZZ-OUTSIDE-SECRET"
# Every file's mtime, so seeds can carry a matching ETag or Last-Modified:
# ETag '"{MTIME_NS:x}-{size:x}"', Last-Modified "Tue, 14 Nov 2023 22:13:20 GMT".
MTIME = 1_700_000_000
HANDLER_STATUSES = {200, 204, 206, 301, 304, 404}
ERROR_STATUSES = {400, 405, 412, 416}
BASE_VARIABLE = "FUZZ_STATIC_BASE"  # where the child builds the document root


def build_root(base: Path) -> Path:
    """The document root the fuzzed requests are answered from."""
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    root = base / "root"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "empty-dir").mkdir()
    files = {
        "index.html": b"<!DOCTYPE html><p>home</p>\n",
        "a.txt": b"abc",
        "empty.txt": b"",
        "sub/index.html": b"<p>sub</p>\n",
        "sub/deeper/page.css": b"p{}",
        "ファイル 1.txt": "テキスト\n".encode(),
        "big.bin": bytes(range(256)) * (DEFAULT_LIMITS.small_file // 256 + 10),
    }
    for name, content in files.items():
        (root / name).write_bytes(content)
    (root / os.fsdecode(b"latin1-\xe9.txt")).write_bytes(b"not utf-8 name")
    (root / "link-in.txt").symlink_to(root / "a.txt")
    (root / "link-out.txt").symlink_to(outside / "secret.txt")
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    (root / "sub" / "up").symlink_to(root, target_is_directory=True)
    for path in [root, *root.rglob("*")]:
        os.utime(path, (MTIME, MTIME), follow_symlinks=False)
    return root


def check(request: Request, response: Response) -> None:
    """The answer's invariants; a broken one raises AssertionError (a finding)."""
    status, headers = response.status, dict(response.headers)
    assert status in HANDLER_STATUSES, status
    response_head(status, response.headers)  # must serialise
    for name, value in response.headers:
        assert "\r" not in value and "\n" not in value, (name, value)
    body = response.body
    if response.file is not None:
        with response.file:
            body = os.pread(response.file.fileno(), response.file_length,
                            response.file_offset)
        assert len(body) == response.file_length
    assert SECRET not in body
    if status == 301:
        location = headers["Location"]
        assert location.startswith("/") and not location.startswith("//"), location
    if status == 304:
        assert set(headers) == {"ETag"}, headers
    if "Content-Length" in headers and request.head.method == "GET" and status != 304:
        assert headers["Content-Length"] == str(len(body)), (headers, len(body))
    if status == 206:
        first, last = headers["Content-Range"].removeprefix("bytes ").split("/")[0].split("-")
        assert int(last) - int(first) + 1 == len(body)


def make_target(root: Path) -> object:
    handler = StaticFiles(str(root))

    def one_input(data: bytes) -> None:
        try:
            head = parse_head(data)
        except HTTPError:
            return  # the parser refused it: not the handler's business
        request = Request(head, b"", data)
        try:
            response = handler(request)
        except HTTPError as error:
            assert error.status in ERROR_STATUSES, error
            response_head(error.status, list(error.headers))
            return
        check(request, response)

    return one_input


def main() -> None:
    base = os.environ.get(BASE_VARIABLE)
    if base is None:
        # libFuzzer ends the process with exit(), which skips Python's clean-up, so the
        # fuzzing runs in a child and this process removes the document root after it.
        with tempfile.TemporaryDirectory(prefix="fuzz-static-") as base:
            env = {**os.environ, BASE_VARIABLE: base}
            sys.exit(subprocess.call([sys.executable, __file__, *sys.argv[1:]], env=env))
    atheris.Setup(sys.argv, make_target(build_root(Path(base))))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
