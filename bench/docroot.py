"""The document root every server in the benchmark serves."""

from __future__ import annotations

import os
from pathlib import Path

SMALL = "/index.html"
BIG = "/big.bin"
BIG_SIZE = 10 * 1024 * 1024

# About 100 bytes: small enough that the benchmark measures per-request overhead
# (parsing, syscalls, capture), not copying.
INDEX_HTML = b"<!doctype html>\n<title>bench</title>\n<p>Hello from the benchmark docroot.</p>\n"


def build(root: Path) -> Path:
    """Write index.html (~100 B) and big.bin (10 MiB of random bytes) under root."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_bytes(INDEX_HTML.ljust(100, b"\n"))
    # Random bytes, so nothing along the way can compress or deduplicate them.
    (root / "big.bin").write_bytes(os.urandom(BIG_SIZE))
    return root
