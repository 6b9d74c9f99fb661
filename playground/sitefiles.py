"""A sandbox's files: list, write (all or nothing), extract zips, delete. No Django here.

Rules that hold for every write, whatever its source (upload, folder, zip, editor,
starter site):

* the name goes through ``safepaths.resolve_under`` (nothing lands outside the root);
* bytes are written to a temporary file in the target's own folder and moved into place
  with ``os.replace``, so henaserver never serves half a file;
* the per-file, per-sandbox and file-count limits are checked while the bytes are
  *counted*, not from what a header or a zip directory claims;
* a batch is all or nothing: if one file is refused, none is written and folders the
  batch created are removed again (a learner loses nothing and gets one clear reason).
"""

from __future__ import annotations

import mimetypes
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from .safepaths import TEMP_PREFIX, UnsafePath, check_relpath, relpath_of, resolve_under

CHUNK = 64 * 1024
# Types the in-browser editor may open besides text/*.
TEXT_TYPES = {"application/json", "application/javascript", "application/xml",
              "image/svg+xml", "application/x-sh"}
# macOS adds these folders to zips it makes; they are metadata, never part of a site.
ZIP_JUNK_PREFIX = "__MACOSX/"


class LimitExceeded(Exception):
    """A size or count limit was hit; the message says which, for the learner."""


class BadArchive(ValueError):
    """The upload is not a zip we can read."""


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int
    max_sandbox_bytes: int
    max_files: int
    # How messages name max_sandbox_bytes (it may be an owner's remaining quota).
    bytes_limit_name: str = "the limit per sandbox"


def human_bytes(n: int) -> str:
    """1536 -> '1.5 KB' (messages for people, not exact counts)."""
    if n < 1024:
        return f"{n} bytes"
    value = float(n)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1024 or unit == "GB":
            break
    return f"{value:.1f} {unit}".replace(".0 ", " ")


def guess_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def is_text(path: str, mime: str) -> bool:
    """Whether the browser editor should offer to open the file."""
    if mime.startswith("text/") or mime in TEXT_TYPES:
        return True
    if mime != "application/octet-stream":
        return False  # images, archives, fonts...
    try:
        with open(path, "rb") as f:
            head = f.read(1024)
        head.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return b"\x00" not in head


class SiteFiles:
    """The document root of one sandbox."""

    def __init__(self, root: str | os.PathLike[str], limits: Limits) -> None:
        self.root = os.path.realpath(root)
        self.limits = limits

    # ----- reading -------------------------------------------------------------------

    def _walk(self) -> Iterator[tuple[str, os.stat_result]]:
        """Every regular file and folder under the root, symlinks not followed."""
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            for name in dirnames:
                path = os.path.join(dirpath, name)
                yield path, os.lstat(path)
            for name in sorted(filenames):
                if name.startswith(TEMP_PREFIX):
                    continue
                path = os.path.join(dirpath, name)
                yield path, os.lstat(path)

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
                            "text": is_text(path, mime), "modified": st.st_mtime})
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
        path = resolve_under(self.root, name)
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
        except BaseException:
            batch.abort()
            raise

    def write(self, name: str, data: bytes) -> None:
        self.write_many([(name, [data])])

    def extract_zip(self, fileobj: IO[bytes]) -> list[str]:
        """Extract a zip archive safely, all or nothing. Returns the names written."""
        try:
            archive = zipfile.ZipFile(fileobj)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise BadArchive("this file is not a zip archive we can read") from exc
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
                raise BadArchive(f"the zip archive is damaged or unsupported: {exc}") from exc
            except BaseException:
                batch.abort()
                raise

    def _check_members(self, archive: zipfile.ZipFile) -> list[tuple[str, zipfile.ZipInfo]]:
        """Refuse the whole archive before writing anything if any member is unsafe.
        Sizes declared here are only a quick first check: the real bytes are counted
        again while extracting (a zip bomb lies in its headers)."""
        infos = archive.infolist()
        # A directory entry per file at most, so twice the file limit is generous.
        if len(infos) > 2 * self.limits.max_files:
            raise LimitExceeded(f"the zip has {len(infos)} entries; at most "
                                f"{self.limits.max_files} files are allowed per sandbox")
        members, declared, files = [], 0, 0
        for info in infos:
            name = _member_name(info)
            if name.startswith(ZIP_JUNK_PREFIX):
                continue
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnsafePath(f"the zip member {name!r} is a symbolic link; "
                                 "archives with links are not accepted")
            if info.flag_bits & 0x1:
                raise BadArchive(f"the zip member {name!r} is encrypted")
            bare = name.rstrip("/") if info.is_dir() else name
            try:
                check_relpath(bare)
            except UnsafePath as exc:
                raise UnsafePath(f"zip member refused: {exc}") from None
            if not info.is_dir():
                files += 1
                declared += info.file_size
            members.append((bare, info))
        if files > self.limits.max_files:
            raise LimitExceeded(f"the zip holds {files} files; at most "
                                f"{self.limits.max_files} are allowed per sandbox")
        if declared > self.limits.max_sandbox_bytes:
            raise LimitExceeded(
                f"the zip would unpack to {human_bytes(declared)}; a sandbox may hold "
                f"at most {human_bytes(self.limits.max_sandbox_bytes)}")
        return members

    # ----- deleting ------------------------------------------------------------------

    def delete(self, name: str) -> None:
        """Delete a file, or a folder with everything in it."""
        path = resolve_under(self.root, name)
        if os.path.islink(path) or os.path.isfile(path):
            os.unlink(path)
        elif os.path.isdir(path):
            shutil.rmtree(path)
        else:
            raise FileNotFoundError(name)


def _member_name(info: zipfile.ZipInfo) -> str:
    """Zips made on Japanese Windows store names in cp932 without saying so; Python
    reads them as cp437 (mojibake). Recover UTF-8 or cp932 names when we can."""
    name = info.filename
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

    def _total(self) -> int:
        return sum(self.sizes.values())

    def mkdir(self, name: str) -> str:
        target = resolve_under(self.files.root, name)
        if os.path.isfile(target) or target in self.pending:
            raise UnsafePath(f"{name!r} is a file, so it cannot also be a folder")
        missing = []
        parent = target
        while not os.path.isdir(parent):
            if os.path.exists(parent):
                shown = relpath_of(self.files.root, parent)
                raise UnsafePath(f"{shown!r} is a file, so it cannot also be a folder")
            missing.append(parent)
            parent = os.path.dirname(parent)
        for path in reversed(missing):
            os.mkdir(path)
            self.created_dirs.append(path)
        return target

    def add(self, name: str, chunks: Iterable[bytes]) -> None:
        target = resolve_under(self.files.root, name)
        if os.path.isdir(target):
            raise UnsafePath(f"{name!r} is a folder; choose another name for the file")
        parent = os.path.dirname(target)
        if parent != self.files.root:
            self.mkdir(relpath_of(self.files.root, parent))
        if target not in self.sizes and len(self.sizes) + 1 > self.limits.max_files:
            raise LimitExceeded(f"a sandbox may hold at most {self.limits.max_files} files; "
                                f"{name!r} would be one too many")
        old = self.sizes.pop(target, 0)
        base_total = self._total()
        fd, temp = tempfile.mkstemp(dir=parent, prefix=TEMP_PREFIX, suffix=".tmp")
        if target in self.pending:
            os.unlink(self.pending.pop(target)[0])
        self.pending[target] = (temp, name)
        written = 0
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                written += len(chunk)
                if written > self.limits.max_file_bytes:
                    self.sizes[target] = old
                    raise LimitExceeded(
                        f"{name!r} is larger than {human_bytes(self.limits.max_file_bytes)}, "
                        "the limit per file")
                if base_total + written > self.limits.max_sandbox_bytes:
                    self.sizes[target] = old
                    raise LimitExceeded(
                        f"adding {name!r} would take the sandbox over "
                        f"{human_bytes(self.limits.max_sandbox_bytes)}, "
                        f"{self.limits.bytes_limit_name}")
                out.write(chunk)
        os.chmod(temp, 0o644)  # mkstemp makes 0600; the site's files are meant to be read
        self.sizes[target] = written

    def commit(self) -> list[str]:
        names = []
        for target, (temp, name) in self.pending.items():
            os.replace(temp, target)
            names.append(name)
        self.pending.clear()
        return names

    def abort(self) -> None:
        for temp, _name in self.pending.values():
            try:
                os.unlink(temp)
            except FileNotFoundError:
                pass
        self.pending.clear()
        for path in reversed(self.created_dirs):
            try:
                os.rmdir(path)  # only if still empty
            except OSError:
                pass
