"""Turn a user-given relative path into a real path inside a sandbox's root, or refuse.

Every file name a learner sends (upload, zip member, editor, delete) goes through
``resolve_under()``; nothing else in the playground joins user input onto a path. The
checks reject visibly instead of "fixing" the name (CPython's ``translate_path`` silently
drops ``..``, which hides the mistake from the learner).
"""

from __future__ import annotations

import os

# Linux's own limits: NAME_MAX is 255 bytes per segment; 1024 keeps whole paths readable.
MAX_SEGMENT_BYTES = 255
MAX_PATH_CHARS = 1024
MAX_DEPTH = 16
# Our own temporary files (see sitefiles.py) start with this; users may not use it.
TEMP_PREFIX = ".hena-upload-"
# Characters that make a name lie about itself in a listing: C1 controls, the line and
# paragraph separators, and bidirectional overrides ("Trojan Source": "evil\u202egpj.js"
# is shown as "evilsj.jpg"). Names starting with "-", or like Windows' CON and NUL, are
# accepted: a name never reaches a command line, and Linux serves them fine.
MISLEADING = {chr(c) for c in range(0x80, 0xA0)} | {
    "\u200e", "\u200f", "\u2028", "\u2029", *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A))}


class UnsafePath(ValueError):
    """The name cannot be used; the message says why, for the learner."""


def check_relpath(name: str) -> tuple[str, ...]:
    """Validate a relative path like ``css/site.css`` and return its segments.

    Rejects: empty names, absolute paths (``/x``, ``C:x``), backslashes, NUL and other
    control characters, empty segments (``a//b``, a trailing ``/``), ``.`` and ``..``,
    over-long names and very deep trees.
    """
    if not isinstance(name, str) or name == "":
        raise UnsafePath("the file name is empty")
    shown = repr(name[:80])
    if len(name) > MAX_PATH_CHARS:
        raise UnsafePath(f"the path {shown}... is longer than {MAX_PATH_CHARS} characters")
    if "\x00" in name:
        raise UnsafePath(f"the name {shown} contains a NUL character")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise UnsafePath(f"the name {shown} contains a control character")
    if any(c in MISLEADING for c in name):
        raise UnsafePath(f"the name {shown} contains an invisible or direction-changing "
                         "character")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in name):
        raise UnsafePath(f"the name {shown} is not valid text (a broken UTF-8 sequence)")
    if "\\" in name:
        raise UnsafePath(f"the name {shown} contains a backslash; use / between folders")
    if name.startswith("/") or (len(name) >= 2 and name[1] == ":"):
        raise UnsafePath(f"the name {shown} is an absolute path; use a path like css/a.css")
    segments = tuple(name.split("/"))
    if len(segments) > MAX_DEPTH:
        raise UnsafePath(f"the path {shown} is more than {MAX_DEPTH} folders deep")
    for segment in segments:
        if segment == "":
            raise UnsafePath(f"the path {shown} has an empty folder name (// or a / at an end)")
        if segment in (".", ".."):
            raise UnsafePath(f"the path {shown} uses {segment!r}; it must stay inside the site")
        if len(segment.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES:
            raise UnsafePath(f"a name in {shown} is longer than {MAX_SEGMENT_BYTES} bytes")
        if segment.startswith(TEMP_PREFIX):
            raise UnsafePath(f"names starting with {TEMP_PREFIX!r} are reserved")
    return segments


def resolve_under(root: str | os.PathLike[str], name: str) -> str:
    """The absolute real path for ``name`` inside ``root``, or UnsafePath.

    After the textual checks, symlinks are resolved and containment is checked with
    ``os.path.commonpath`` against the real root, so a symlink planted inside the root
    cannot lead out of it.
    """
    segments = check_relpath(name)
    real_root = os.path.realpath(root)
    target = os.path.realpath(os.path.join(real_root, *segments))
    if target == real_root or os.path.commonpath([real_root, target]) != real_root:
        raise UnsafePath(f"the path {name[:80]!r} leads outside the site's folder")
    return target


def relpath_of(root: str | os.PathLike[str], path: str) -> str:
    """``path`` (inside ``root``) as the ``a/b.txt`` form the API uses."""
    return os.path.relpath(path, os.path.realpath(root)).replace(os.sep, "/")
