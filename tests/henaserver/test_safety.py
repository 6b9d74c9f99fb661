"""Nothing outside the root is ever served: a traversal corpus replayed over raw sockets.

Each row is a request target and the statuses allowed for it. Whatever the status, the
response must not contain the secret planted outside the root, nor the real paths.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rawhttp import get
from support import INDEX_CSS, INDEX_HTML, OUTSIDE_SECRET, ServerProcess

# The lead's rules: ".." after decoding, an encoded slash, a backslash, NUL and a broken
# escape are refused visibly (400); a symlink leading outside looks missing (404).
TRAVERSALS = [
    ("/../secret.txt", {400}),
    ("/../../../../../../etc/passwd", {400}),
    ("/sub/../../secret.txt", {400}),
    ("/sub/..", {400}),
    ("/..", {400}),
    ("/%2e%2e/secret.txt", {400}),
    ("/%2E%2E/%2E%2E/etc/passwd", {400}),
    ("/.%2e/secret.txt", {400}),
    ("/%2e./secret.txt", {400}),
    ("/sub/%2e%2e/%2e%2e/etc/passwd", {400}),
    ("/..%2fsecret.txt", {400}),
    ("/sub%2f..%2f..%2fetc%2fpasswd", {400}),
    ("/%2fetc%2fpasswd", {400}),
    ("/sub%2Findex.html", {400}),
    ("/..\\secret.txt", {400}),
    ("/sub\\..\\..\\etc\\passwd", {400}),
    ("/%5c..%5csecret.txt", {400}),
    ("/index.html%00.txt", {400}),
    ("/%00", {400}),
    ("/sub/%00/../../etc/passwd", {400}),
    ("/%zz", {400}),
    ("/%2", {400}),
    ("/index.html%", {400}),
    ("/%%32%65%%32%65/secret.txt", {400}),
    ("/%252e%252e/secret.txt", {404}),
    ("/%c0%ae%c0%ae/secret.txt", {400, 404}),
    ("/link-out.txt", {404}),
    ("/linkdir/secret.txt", {404}),
    ("/linkdir/passwd", {404}),
    ("/linkdir/", {404}),
    ("/linkdir", {404}),  # a directory outside: no redirect that would reveal it
    ("//linkdir/", {404}),
    ("/link-out.txt/", {404}),
    ("/sub//link-out.txt", {404}),
    ("//etc/passwd", {400, 403, 404}),
    ("///etc/passwd", {400, 403, 404}),
    ("/./../secret.txt", {400}),
    ("http://x/etc/passwd", {404}),
    ("http://x/../secret.txt", {400}),
    ("http://x/%2e%2e/secret.txt", {400}),
    ("http://x//etc/passwd", {400, 403, 404}),
    ("HTTP://x/etc/passwd", {404}),
    ("etc/passwd", {400}),
    ("../secret.txt", {400}),
    ("*", {400}),
    ("file:///etc/passwd", {400}),
]


@pytest.mark.parametrize("target,allowed", TRAVERSALS, ids=[t for t, _ in TRAVERSALS])
def test_traversal_is_refused_and_leaks_nothing(server: ServerProcess, docroot: Path,
                                                outside: Path, target: str,
                                                allowed: set[int]) -> None:
    with server.raw() as conn:
        response = conn.request(get(target))
    assert response.status in allowed, (target, response.status, response.body[:200])
    for secret in (OUTSIDE_SECRET, b"root:x:0:0", str(outside).encode(),
                   str(docroot).encode()):
        assert secret not in response.raw, f"{target} leaked {secret!r}"


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_symlink_outside_is_404_like_a_missing_file(server: ServerProcess,
                                                    method: str) -> None:
    with server.raw() as conn:
        linked = conn.request(get("/link-out.txt", method=method), method)
        missing = conn.request(get("/no-such-file.txt", method=method), method)
    assert linked.status == missing.status == 404
    assert linked.header("Content-Length") != str(len(OUTSIDE_SECRET))


def test_refusals_keep_serving(server: ServerProcess) -> None:
    with server.raw() as conn:
        conn.send(get("/../secret.txt"))
        refused = conn.read_response()
        if (refused.header("Connection") or "").lower() == "close":
            assert conn.closed_by_server() == b""
            return
        assert conn.request(get("/index.css")).body == INDEX_CSS


@pytest.mark.parametrize("target", ["/./index.html", "/sub/./../index.html",
                                    "/%2e/index.html"])
def test_dot_segments(server: ServerProcess, target: str) -> None:
    # "." segments are harmless; ".." is refused even when it would stay inside.
    with server.raw() as conn:
        response = conn.request(get(target))
    if ".." in target:
        assert response.status == 400
    else:
        assert response.status == 200 and response.body == INDEX_HTML
