"""A sandbox's files: list, write (all or nothing), extract zips, delete. No Django here.

Rules that hold for every write, whatever its source (upload, folder, zip, editor,
starter site):

* the name goes through ``safepaths.resolve_under`` (nothing lands outside the root),
  and every file operation then goes through ``beneath.py``: from the root's descriptor
  one name at a time, symlinks never followed, so a program that swaps names in its
  folder while we work cannot send a read or a write elsewhere;
* bytes are written to a temporary file in the target's own folder and moved into place
  with ``os.replace`` (``beneath.replace``), so henaserver never serves half a file;
* the per-file, per-sandbox and file-count limits are checked while the bytes are
  *counted*, not from what a header or a zip directory claims;
* a batch is all or nothing: if one file is refused, none is written and folders the
  batch created are removed again (a learner loses nothing and gets one clear reason);
* the quota is checked twice: while the bytes are staged (an early answer), and again at
  commit, measured afresh inside ``commit_guard`` (storage.py: a database lock on the
  owner's sandboxes), so two uploads at once cannot both fit in the room left for one;
* a full disk (ENOSPC, EDQUOT) is a ``DiskFull`` refusal (507): the staged temporary
  files are removed and what was stored before is untouched.
"""

from __future__ import annotations

import errno
import mimetypes
import os
import stat
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from typing import IO, Any

from ..refusals import Refusal, Size, gettext_noop
from . import beneath
from .batch import Batch, CommitGuard, LimitExceeded, Limits
from .safepaths import TEMP_PREFIX, UnsafePath, check_relpath, relpath_of, resolve_under

CHUNK = 64 * 1024
# Types the in-browser editor may open besides text/*.
TEXT_TYPES = {"application/json", "application/javascript", "application/xml",
              "image/svg+xml", "application/x-sh"}
# macOS adds these folders to zips it makes; they are metadata, never part of a site.
ZIP_JUNK_PREFIX = "__MACOSX/"


class BadArchive(Refusal, ValueError):
    """The upload is not a zip we can read."""


class DiskFull(Refusal):
    """The file system has no room (ENOSPC) or the user's disk quota is used up (EDQUOT).
    507 Insufficient Storage (RFC 4918 section 11.5): the server, not the request, is
    at fault, and the same request may succeed later."""

    status = 507


class WouldReplace(Exception):
    """A write asked not to replace files would: ``existing`` names them, so the
    learner can be asked first (files/api.py answers 409)."""

    def __init__(self, existing: list[str]) -> None:
        super().__init__(", ".join(existing))
        self.existing = existing


# The errors that mean "no room", as opposed to a bug.
NO_ROOM = {errno.ENOSPC, errno.EDQUOT}
DISK_FULL = gettext_noop("the playground's disk is full, so the upload could not be "
                         "stored; nothing was changed. Try again once space has been "
                         "freed.")


def _raise_if_no_room(exc: BaseException) -> None:
    if isinstance(exc, OSError) and exc.errno in NO_ROOM:
        raise DiskFull(DISK_FULL) from exc


def guess_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def is_text(folder: int, name: str, mime: str) -> bool:
    """Whether the browser editor should offer to open the file ``name`` in ``folder``
    (a descriptor)."""
    if mime.startswith("text/") or mime in TEXT_TYPES:
        return True
    if mime != "application/octet-stream":
        return False  # images, archives, fonts...
    head = beneath.read_head(folder, name, 1024)
    if head is None:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in head


class SiteFiles:
    """The document root of one sandbox."""

    def __init__(self, root: str | os.PathLike[str], limits: Limits,
                 commit_guard: CommitGuard | None = None) -> None:
        self.root = os.path.realpath(root)
        self.limits = limits
        self.commit_guard = commit_guard or (lambda: nullcontext(self.limits))

    # ----- reading -------------------------------------------------------------------

    def _walk(self) -> Iterator[tuple[str, os.stat_result, int, str]]:
        """Every entry under the root: its path, lstat, its folder's descriptor and its
        name. ``os.fwalk`` descends by descriptor and never through a symlink, even one
        swapped in while it walks (``os.walk`` would list a folder it points to)."""
        for dirpath, dirnames, filenames, folder in os.fwalk(self.root):
            dirnames.sort()
            for name in dirnames + sorted(filenames):
                if name.startswith(TEMP_PREFIX):
                    continue
                try:
                    st = os.stat(name, dir_fd=folder, follow_symlinks=False)
                except FileNotFoundError:
                    continue  # gone meanwhile
                yield os.path.join(dirpath, name), st, folder, name

    def entries(self) -> list[dict[str, Any]]:
        """The tree as a flat, sorted list: folders and files with size and type."""
        out = []
        for path, st, folder, name in self._walk():
            rel = relpath_of(self.root, path)
            if stat.S_ISDIR(st.st_mode):
                out.append({"path": rel, "kind": "dir"})
            elif stat.S_ISREG(st.st_mode):
                mime = guess_type(rel)
                out.append({"path": rel, "kind": "file", "size": st.st_size, "type": mime,
                            "text": is_text(folder, name, mime),
                            "modified": st.st_mtime})
        out.sort(key=lambda e: e["path"].split("/"))
        return out

    def usage(self) -> tuple[int, int]:
        """(number of files, total bytes)."""
        count = total = 0
        for _path, st, _folder, _name in self._walk():
            if stat.S_ISREG(st.st_mode):
                count += 1
                total += st.st_size
        return count, total

    def file_path(self, name: str) -> str:
        """The real path of an existing regular file, or FileNotFoundError. Only to
        know that it is there: read it with ``open`` (a path may be swapped meanwhile)."""
        path = resolve_under(self.root, name, existing=True)
        if not os.path.isfile(path):
            raise FileNotFoundError(name)
        return path

    def open(self, name: str) -> IO[bytes]:
        """The regular file ``name``, open for reading (beneath.py), or
        FileNotFoundError (a symlink counts as missing)."""
        resolve_under(self.root, name, existing=True)  # the checks, and their refusals
        return beneath.open_file(self.root, check_relpath(name, existing=True))

    # ----- writing -------------------------------------------------------------------

    def write_many(self, items: Iterable[tuple[str, Iterable[bytes]]]) -> list[str]:
        """Write every ``(name, chunks)`` or none of them. Returns the names written."""
        batch = Batch(self)
        try:
            for name, chunks in items:
                batch.add(name, chunks)
            return batch.commit()
        except BaseException as exc:
            batch.abort()
            _raise_if_no_room(exc)
            raise

    def write(self, name: str, data: bytes) -> None:
        self.write_many([(name, [data])])

    def existing(self, names: Iterable[str]) -> list[str]:
        """Those of ``names`` that are files here now: what a write of them would
        replace (the starter site and a zip ask before they do)."""
        found = []
        for name in names:
            try:
                self.file_path(name)
            except FileNotFoundError:
                continue
            found.append(name)
        return found

    def extract_zip(self, fileobj: IO[bytes], replace: bool = True) -> list[str]:
        """Extract a zip archive safely, all or nothing. Returns the names written.
        ``replace=False``: if any member would replace a file, ``WouldReplace`` (naming
        them) and nothing is written."""
        try:
            archive = zipfile.ZipFile(fileobj)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise BadArchive(gettext_noop("this file is not a zip archive we can read")) from exc
        with archive:
            members = self._check_members(archive)
            if not replace:
                existing = self.existing(name for name, info in members if not info.is_dir())
                if existing:
                    raise WouldReplace(existing)
            batch = Batch(self)
            try:
                for name, info in members:
                    if info.is_dir():
                        batch.mkdir(name)
                    else:
                        with archive.open(info) as stream:
                            batch.add(name, iter(lambda s=stream: s.read(CHUNK), b""))
                return batch.commit()
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
                batch.abort()
                raise BadArchive(
                    gettext_noop("the zip archive is damaged or unsupported: %(detail)s"),
                    detail=str(exc)) from exc
            except BaseException as exc:
                batch.abort()
                _raise_if_no_room(exc)
                raise

    def _check_members(self, archive: zipfile.ZipFile) -> list[tuple[str, zipfile.ZipInfo]]:
        """Refuse the whole archive before writing anything if any member is unsafe.
        Sizes declared here are only a quick first check: the real bytes are counted
        again while extracting (a zip bomb lies in its headers)."""
        infos = archive.infolist()
        # A directory entry per file at most, so twice the file limit is generous.
        if len(infos) > 2 * self.limits.max_files:
            raise LimitExceeded(
                gettext_noop("the zip has %(count)s entries; at most %(limit)s files are "
                             "allowed per sandbox"),
                count=len(infos), limit=self.limits.max_files)
        members, declared, files = [], 0, 0
        for info in infos:
            name = _member_name(info)
            if name.startswith(ZIP_JUNK_PREFIX):
                continue
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnsafePath(
                    gettext_noop("the zip member %(name)s is a symbolic link; archives with "
                                 "links are not accepted"), name=repr(name))
            if info.flag_bits & 0x1:
                raise BadArchive(gettext_noop("the zip member %(name)s is encrypted"),
                                 name=repr(name))
            bare = name.rstrip("/") if info.is_dir() else name
            try:
                check_relpath(bare)
            except UnsafePath as exc:
                raise UnsafePath(gettext_noop("zip member refused: %(reason)s"),
                                 reason=exc) from None
            if not info.is_dir():
                files += 1
                declared += info.file_size
            members.append((bare, info))
        if files > self.limits.max_files:
            raise LimitExceeded(
                gettext_noop("the zip holds %(count)s files; at most %(limit)s are allowed "
                             "per sandbox"), count=files, limit=self.limits.max_files)
        if declared > self.limits.max_sandbox_bytes:
            raise LimitExceeded(
                gettext_noop("the zip would unpack to %(size)s; a sandbox may hold at most "
                             "%(limit)s"),
                size=Size(declared), limit=Size(self.limits.max_sandbox_bytes))
        return members

    # ----- deleting ------------------------------------------------------------------

    def delete(self, name: str) -> None:
        """Delete a file, or a folder with everything in it."""
        path = resolve_under(self.root, name, existing=True)
        if not os.path.lexists(path):
            raise FileNotFoundError(name)
        beneath.remove(self.root, check_relpath(name, existing=True))


def _member_name(info: zipfile.ZipInfo) -> str:
    """The name as stored (``filename`` is cut at a NUL, so check_relpath would never
    see it). Zips made on Japanese Windows store names in cp932 without saying so;
    Python reads them as cp437 (mojibake). Recover UTF-8 or cp932 names when we can."""
    name = info.orig_filename
    if info.flag_bits & 0x800:
        return name  # the archive says the name is UTF-8
    try:
        raw = name.encode("cp437")
    except UnicodeEncodeError:
        return name
    for encoding in ("utf-8", "cp932"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return name
