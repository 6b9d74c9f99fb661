"""A sandbox's files: list, write (all or nothing), extract zips, delete. No Django here.

Rules that hold for every write, whatever its source (upload, folder, zip, editor,
starter site):

* the name goes through ``safepaths.resolve_under`` (nothing lands outside the root);
* bytes are written to a temporary file in the target's own folder and moved into place
  with ``os.replace`` (``atomic.py``), so henaserver never serves half a file;
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
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import IO, Any

from ..refusals import Phrase, Refusal, Size, gettext_noop
from . import atomic, safepaths
from .safepaths import TEMP_PREFIX, UnsafePath, check_relpath, relpath_of, resolve_under

CHUNK = 64 * 1024
# Types the in-browser editor may open besides text/*.
TEXT_TYPES = {"application/json", "application/javascript", "application/xml",
              "image/svg+xml", "application/x-sh"}
# macOS adds these folders to zips it makes; they are metadata, never part of a site.
ZIP_JUNK_PREFIX = "__MACOSX/"


class LimitExceeded(Refusal):
    """A size or count limit was hit; the message says which, for the learner."""

    status = 413


class BadArchive(Refusal, ValueError):
    """The upload is not a zip we can read."""


class DiskFull(Refusal):
    """The file system has no room (ENOSPC) or the user's disk quota is used up (EDQUOT).
    507 Insufficient Storage (RFC 4918 section 11.5): the server, not the request, is
    at fault, and the same request may succeed later."""

    status = 507


# The errors that mean "no room", as opposed to a bug.
NO_ROOM = {errno.ENOSPC, errno.EDQUOT}
DISK_FULL = gettext_noop("the playground's disk is full, so the upload could not be "
                         "stored; nothing was changed. Try again once space has been "
                         "freed.")


def _raise_if_no_room(exc: BaseException) -> None:
    if isinstance(exc, OSError) and exc.errno in NO_ROOM:
        raise DiskFull(DISK_FULL) from exc


# Commit guard: a context manager entered around "measure again + move into place",
# yielding the limits as they are now (storage.py makes it a database lock).
CommitGuard = Callable[[], AbstractContextManager["Limits"]]


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int
    max_sandbox_bytes: int
    max_files: int
    # How messages name max_sandbox_bytes (it may be an owner's remaining quota): a
    # msgid, translated where the message is shown.
    bytes_limit_name: str = gettext_noop("the limit per sandbox")


def guess_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def is_text(path: str, mime: str, root: str) -> bool:
    """Whether the browser editor should offer to open the file."""
    if mime.startswith("text/") or mime in TEXT_TYPES:
        return True
    if mime != "application/octet-stream":
        return False  # images, archives, fonts...
    try:  # a program may swap it meanwhile: open_regular
        with os.fdopen(safepaths.open_regular(root, path), "rb") as f:
            head = f.read(1024)
        head.decode("utf-8")
    except (OSError, UnicodeDecodeError):
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

    def _walk(self) -> Iterator[tuple[str, os.stat_result]]:
        """Every regular file and folder under the root, symlinks not followed."""
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            for name in dirnames + [n for n in sorted(filenames) if not n.startswith(TEMP_PREFIX)]:
                path = os.path.join(dirpath, name)
                try:
                    st = os.lstat(path)
                except FileNotFoundError:  # a program sandbox's program deleted it meanwhile
                    continue
                yield path, st

    def entries(self) -> list[dict[str, Any]]:
        """The tree as a flat, sorted list: folders and files with size and type."""
        out = []
        for path, st in self._walk():
            rel = relpath_of(self.root, path)
            if stat.S_ISDIR(st.st_mode):
                out.append({"path": rel, "kind": "dir"})
            elif stat.S_ISREG(st.st_mode):
                mime = guess_type(rel)
                out.append({"path": rel, "kind": "file", "size": st.st_size, "type": mime,
                            "text": is_text(path, mime, self.root), "modified": st.st_mtime})
        out.sort(key=lambda e: e["path"].split("/"))
        return out

    def usage(self) -> tuple[int, int]:
        """(number of files, total bytes)."""
        count = total = 0
        for _path, st in self._walk():
            if stat.S_ISREG(st.st_mode):
                count += 1
                total += st.st_size
        return count, total

    def file_path(self, name: str) -> str:
        """The real path of an existing regular file, or FileNotFoundError."""
        path = resolve_under(self.root, name, existing=True)
        if not os.path.isfile(path):
            raise FileNotFoundError(name)
        return path

    # ----- writing -------------------------------------------------------------------

    def write_many(self, items: Iterable[tuple[str, Iterable[bytes]]]) -> list[str]:
        """Write every ``(name, chunks)`` or none of them. Returns the names written."""
        batch = _Batch(self)
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

    def extract_zip(self, fileobj: IO[bytes]) -> list[str]:
        """Extract a zip archive safely, all or nothing. Returns the names written."""
        try:
            archive = zipfile.ZipFile(fileobj)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise BadArchive(gettext_noop("this file is not a zip archive we can read")) from exc
        with archive:
            members = self._check_members(archive)
            batch = _Batch(self)
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
        safepaths.remove_under(self.root, resolve_under(self.root, name, existing=True))


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


class _Batch:
    """Temporary files waiting to be moved into place together."""

    def __init__(self, files: SiteFiles) -> None:
        self.files = files
        self.limits = files.limits
        # Current size of every existing file, so replacing a file counts only the growth.
        self.sizes: dict[str, int] = {}
        for path, st in files._walk():
            if stat.S_ISREG(st.st_mode):
                self.sizes[path] = st.st_size
        self.pending: dict[str, tuple[str, str]] = {}  # target -> (temp path, name)
        self.created_dirs: list[str] = []
        self.pinned: dict[str, tuple[int, str]] = {}  # the temps' folders (pin_folder)

    def _total(self) -> int:
        return sum(self.sizes.values())

    def mkdir(self, name: str) -> str:
        target = resolve_under(self.files.root, name)
        if os.path.isfile(target) or target in self.pending:
            raise UnsafePath(gettext_noop("%(name)s is a file, so it cannot also be a folder"),
                             name=repr(name))
        missing = []
        parent = target
        while not os.path.isdir(parent):
            if os.path.exists(parent):
                shown = relpath_of(self.files.root, parent)
                raise UnsafePath(
                    gettext_noop("%(name)s is a file, so it cannot also be a folder"),
                    name=repr(shown))
            missing.append(parent)
            parent = os.path.dirname(parent)
        for path in reversed(missing):
            safepaths.mkdir_under(self.files.root, path)
            self.created_dirs.append(path)
        return target

    def add(self, name: str, chunks: Iterable[bytes]) -> None:
        target = resolve_under(self.files.root, name)
        if os.path.isdir(target):
            raise UnsafePath(
                gettext_noop("%(name)s is a folder; choose another name for the file"),
                name=repr(name))
        parent = os.path.dirname(target)
        if parent != self.files.root:
            self.mkdir(relpath_of(self.files.root, parent))
        if target not in self.sizes and len(self.sizes) + 1 > self.limits.max_files:
            raise LimitExceeded(
                gettext_noop("a sandbox may hold at most %(limit)s files; %(name)s would be "
                             "one too many"), limit=self.limits.max_files, name=repr(name))
        old = self.sizes.pop(target, 0)
        base_total = self._total()
        if parent not in self.pinned:  # one descriptor per folder, however many files
            self.pinned[parent] = safepaths.pin_folder(self.files.root, parent)
        out, temp = atomic.new_temp(self.pinned[parent][1])  # renamed in that folder too
        if target in self.pending:
            os.unlink(self.pending.pop(target)[0])
        self.pending[target] = (temp, name)
        written = 0
        with out:
            for chunk in chunks:
                written += len(chunk)
                if written > self.limits.max_file_bytes:
                    self.sizes[target] = old
                    raise LimitExceeded(
                        gettext_noop("%(name)s is larger than %(limit)s, the limit per file"),
                        name=repr(name), limit=Size(self.limits.max_file_bytes))
                if base_total + written > self.limits.max_sandbox_bytes:
                    self.sizes[target] = old
                    raise LimitExceeded(
                        gettext_noop("adding %(name)s would take the sandbox over %(limit)s, "
                                     "%(limit_name)s"),
                        name=repr(name), limit=Size(self.limits.max_sandbox_bytes),
                        limit_name=Phrase(self.limits.bytes_limit_name))
                out.write(chunk)
        self.sizes[target] = written

    def commit(self) -> list[str]:
        """Measure the sandbox again and move every staged file into place, both inside
        the commit guard: what another upload committed meanwhile counts."""
        with self.files.commit_guard() as limits:
            self._check_again(limits)
            names = []
            for target, (temp, name) in self.pending.items():
                atomic.replace(temp, os.path.join(os.path.dirname(temp),
                                                  os.path.basename(target)))
                names.append(name)
        self.pending.clear()
        safepaths.unpin(self.pinned)
        return names

    def _check_again(self, limits: Limits) -> None:
        now: dict[str, int] = {path: st.st_size for path, st in self.files._walk()
                               if stat.S_ISREG(st.st_mode)}
        staged = {target: os.stat(temp).st_size for target, (temp, _n) in self.pending.items()}
        now.update(staged)  # a staged file replaces the one of the same name
        if len(now) > limits.max_files:
            raise LimitExceeded(
                gettext_noop("a sandbox may hold at most %(limit)s files; this upload would "
                             "make %(count)s"), limit=limits.max_files, count=len(now))
        total = sum(now.values())
        if total > limits.max_sandbox_bytes:
            raise LimitExceeded(
                gettext_noop("this upload would take the sandbox to %(size)s, over "
                             "%(limit)s, %(limit_name)s"),
                size=Size(total), limit=Size(limits.max_sandbox_bytes),
                limit_name=Phrase(limits.bytes_limit_name))

    def abort(self) -> None:
        for temp, _name in self.pending.values():
            try:
                os.unlink(temp)
            except FileNotFoundError:
                pass
        self.pending.clear()
        safepaths.unpin(self.pinned)
        for path in reversed(self.created_dirs):
            try:
                os.rmdir(path)  # only if still empty
            except OSError:
                pass
