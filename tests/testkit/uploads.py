"""Upload bodies made by hand, and a picture of what is on disk (to prove that a refused
upload wrote nothing)."""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
import uuid

from .playgrounds import Browser, Daphne


def multipart(*parts: tuple[str, str | None, bytes]) -> tuple[bytes, str]:
    """Encode (field, filename, bytes) parts by hand: Django's test client would strip
    the folders from file names, and keeping them is the point. A filename of None
    makes a plain form field (``overwrite=true``). Returns the body and its
    Content-Type."""
    boundary = uuid.uuid4().hex
    body = b""
    for field, filename, data in parts:
        if filename is None:
            body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\""
                     "\r\n\r\n").encode() + data + b"\r\n"
            continue
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
                 f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                 ).encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def snapshot(path: str | os.PathLike[str]) -> dict[str, bytes]:
    """Every file under ``path``, with its content."""
    out = {}
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            full = os.path.join(dirpath, name)
            with open(full, "rb") as f:
                out[os.path.relpath(full, path)] = f.read()
    return out


def upload(browser: Browser, site: Daphne, sandbox_id: int, parts, language: str = "en",
           method: str = "POST", path: str = "") -> tuple[int, dict]:
    """A multipart upload (or a PUT of one file's bytes) as the page sends it."""
    if method == "POST":
        body, content_type = multipart(*parts)
    else:
        body, content_type = parts, "application/octet-stream"
    request = urllib.request.Request(
        f"{site.base}/api/sandboxes/{sandbox_id}/files/{path}", data=body, method=method,
        headers={"X-CSRFToken": browser.cookie("csrftoken"), "Content-Type": content_type,
                 "Accept-Language": language})
    try:
        with browser.opener.open(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def race(uploads) -> list[tuple[int, dict]]:
    """Run each ``upload()`` thunk in its own thread, all released at once."""
    barrier = threading.Barrier(len(uploads))
    results: list = [None] * len(uploads)

    def run(index: int) -> None:
        barrier.wait()
        results[index] = uploads[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(uploads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results
