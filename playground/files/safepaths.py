"""Turn a user-given relative path into a real path inside a sandbox's root, or refuse.

Every file name a learner sends (upload, zip member, editor, delete) goes through
``resolve_under()``; nothing else in the playground joins user input onto a path. The
checks reject visibly instead of "fixing" the name (CPython's ``translate_path`` silently
drops ``..``, which hides the mistake from the learner).
"""

from __future__ import annotations

import os

from ..refusals import Refusal, gettext_noop

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


FOLDER_MOVED = gettext_noop("the folder %(name)s changed while the playground wrote in it "
                            "(your program may be moving it); try again")
BROKEN_UTF8 = gettext_noop("the name %(name)s is not valid text (a broken UTF-8 sequence)")


class UnsafePath(Refusal, ValueError):
    """The name cannot be used; the message says why, for the learner."""


def check_relpath(name: str, existing: bool = False) -> tuple[str, ...]:
    """Validate a relative path like ``css/site.css`` and return its segments.

    Rejects: empty names, absolute paths (``/x``, ``C:x``), backslashes, NUL and other
    control characters, broken UTF-8 (surrogates, U+FFFD), empty segments (``a//b``, a
    trailing ``/``), ``.`` and ``..``, over-long names and very deep trees.

    ``existing``: the name of a file to read or delete, not one to make. U+FFFD is then
    accepted: it is a real character, and files stored before it was refused (or put
    in the folder by other means) must stay readable and deletable.
    """
    if not isinstance(name, str) or name == "":
        raise UnsafePath(gettext_noop("the file name is empty"))
    shown = repr(name[:80])
    if len(name) > MAX_PATH_CHARS:
        raise UnsafePath(gettext_noop("the path %(name)s... is longer than %(limit)s characters"),
                         name=shown, limit=MAX_PATH_CHARS)
    if "\x00" in name:
        raise UnsafePath(gettext_noop("the name %(name)s contains a NUL character"), name=shown)
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise UnsafePath(gettext_noop("the name %(name)s contains a control character"), name=shown)
    if any(c in MISLEADING for c in name):
        raise UnsafePath(
            gettext_noop("the name %(name)s contains an invisible or direction-changing "
                         "character"), name=shown)
    # A surrogate is what Python makes of undecodable bytes; U+FFFD is what a decoder
    # puts in their place (daphne decodes %ff in a URL so). Both mean broken UTF-8.
    if any(0xD800 <= ord(c) <= 0xDFFF or (c == "\ufffd" and not existing) for c in name):
        raise UnsafePath(BROKEN_UTF8, name=shown)
    if "\\" in name:
        raise UnsafePath(
            gettext_noop("the name %(name)s contains a backslash; use / between folders"),
            name=shown)
    if name.startswith("/") or (len(name) >= 2 and name[1] == ":"):
        raise UnsafePath(
            gettext_noop("the name %(name)s is an absolute path; use a path like css/a.css"),
            name=shown)
    segments = tuple(name.split("/"))
    if len(segments) > MAX_DEPTH:
        raise UnsafePath(gettext_noop("the path %(name)s is more than %(limit)s folders deep"),
                         name=shown, limit=MAX_DEPTH)
    for segment in segments:
        if segment == "":
            raise UnsafePath(
                gettext_noop("the path %(name)s has an empty folder name (// or a / at an end)"),
                name=shown)
        if segment in (".", ".."):
            raise UnsafePath(
                gettext_noop("the path %(name)s uses %(segment)s; it must stay inside the site"),
                name=shown, segment=repr(segment))
        if len(segment.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES:
            raise UnsafePath(gettext_noop("a name in %(name)s is longer than %(limit)s bytes"),
                             name=shown, limit=MAX_SEGMENT_BYTES)
        if segment.startswith(TEMP_PREFIX):
            raise UnsafePath(gettext_noop("names starting with %(prefix)s are reserved"),
                             prefix=repr(TEMP_PREFIX))
    return segments


def resolve_under(root: str | os.PathLike[str], name: str, existing: bool = False) -> str:
    """The absolute real path for ``name`` inside ``root``, or UnsafePath.

    After the textual checks, symlinks are resolved and containment is checked with
    ``os.path.commonpath`` against the real root, so a symlink planted inside the root
    cannot lead out of it. ``existing``: as for ``check_relpath``.
    """
    segments = check_relpath(name, existing)
    real_root = os.path.realpath(root)
    try:
        target = os.path.realpath(os.path.join(real_root, *segments))
    except OSError:  # a symlink that a running program made a folder again meanwhile
        raise UnsafePath(FOLDER_MOVED, name=repr(name[:80])) from None
    if target == real_root or os.path.commonpath([real_root, target]) != real_root:
        raise UnsafePath(gettext_noop("the path %(name)s leads outside the site's folder"),
                         name=repr(name[:80]))
    return target


def relpath_of(root: str | os.PathLike[str], path: str) -> str:
    """``path`` (inside ``root``) as the ``a/b.txt`` form the API uses."""
    return os.path.relpath(path, os.path.realpath(root)).replace(os.sep, "/")

