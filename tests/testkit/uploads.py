"""Upload bodies made by hand, and a picture of what is on disk (to prove that a refused
upload wrote nothing)."""

from __future__ import annotations

import os
import uuid


def multipart(*parts: tuple[str, str, bytes]) -> tuple[bytes, str]:
    """Encode (field, filename, bytes) parts by hand: Django's test client would strip
    the folders from file names, and keeping them is the point. Returns the body and
    its Content-Type."""
    boundary = uuid.uuid4().hex
    body = b""
    for field, filename, data in parts:
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
