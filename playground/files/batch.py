"""A batch of writes into a sandbox's folder, all or nothing (sitefiles.py says the
rules). No Django here.

Bytes are staged in temporary files in their target's folder, then moved into place
together; every folder and file is reached through ``beneath.py`` (from the root's
descriptor, never through a symlink), and each folder's descriptor is held from staging
to the move, so a program swapping names in its folder meanwhile cannot send a write
elsewhere.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from ..refusals import Phrase, Refusal, Size, gettext_noop
from . import beneath
from .safepaths import UnsafePath, check_relpath, relpath_of, resolve_under


class LimitExceeded(Refusal):
    """A size or count limit was hit; the message says which, for the learner."""

    status = 413


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


class Batch:
    """Temporary files waiting to be moved into place together."""

    def __init__(self, files: Any) -> None:  # a SiteFiles (which imports us)
        self.files = files
        self.limits = files.limits
        # Current size of every existing file, so replacing a file counts only the growth.
        self.sizes: dict[str, int] = {}
        for path, st, _folder, _name in files._walk():
            if stat.S_ISREG(st.st_mode):
                self.sizes[path] = st.st_size
        # target -> (its folder's descriptor, temp name, final name, the name asked for)
        self.pending: dict[str, tuple[int, str, str, str]] = {}
        self.created_dirs: list[tuple[str, ...]] = []
        # One descriptor per folder written to, held until commit or abort.
        self.folders: dict[tuple[str, ...], int] = {}

    def _total(self) -> int:
        return sum(self.sizes.values())

    def mkdir(self, name: str) -> str:
        target = resolve_under(self.files.root, name)
        if os.path.isfile(target) or target in self.pending:
            raise UnsafePath(gettext_noop("%(name)s is a file, so it cannot also be a folder"),
                             name=repr(name))
        parent = target
        while not os.path.isdir(parent):
            if os.path.exists(parent):
                shown = relpath_of(self.files.root, parent)
                raise UnsafePath(
                    gettext_noop("%(name)s is a file, so it cannot also be a folder"),
                    name=repr(shown))
            parent = os.path.dirname(parent)
        self._folder(check_relpath(name))
        return target

    def _folder(self, segments: tuple[str, ...]) -> int:
        """The folder ``segments``' descriptor, made as needed (beneath.py)."""
        if segments not in self.folders:
            self.folders[segments] = beneath.open_folder(
                self.files.root, segments, create=True, created=self.created_dirs)
        return self.folders[segments]

    def add(self, name: str, chunks: Iterable[bytes]) -> None:
        target = resolve_under(self.files.root, name)
        if os.path.isdir(target):
            raise UnsafePath(
                gettext_noop("%(name)s is a folder; choose another name for the file"),
                name=repr(name))
        parent = os.path.dirname(target)
        if parent != self.files.root:
            self.mkdir(relpath_of(self.files.root, parent))
        segments = check_relpath(name)
        if target not in self.sizes and len(self.sizes) + 1 > self.limits.max_files:
            raise LimitExceeded(
                gettext_noop("a sandbox may hold at most %(limit)s files; %(name)s would be "
                             "one too many"), limit=self.limits.max_files, name=repr(name))
        old = self.sizes.pop(target, 0)
        base_total = self._total()
        folder = self._folder(segments[:-1])
        out, temp = beneath.new_temp(folder)
        if target in self.pending:
            self._drop(*self.pending.pop(target)[:2])
        self.pending[target] = (folder, temp, segments[-1], name)
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
            for folder, temp, final, name in self.pending.values():
                try:
                    beneath.replace(folder, temp, final)
                except (IsADirectoryError, NotADirectoryError):  # swapped meanwhile
                    raise UnsafePath(gettext_noop(
                        "%(name)s is a folder; choose another name for the file"),
                        name=repr(name)) from None
                names.append(name)
        self.pending.clear()
        self._close()
        return names

    @staticmethod
    def _drop(folder: int, temp: str) -> None:
        try:
            os.unlink(temp, dir_fd=folder)
        except FileNotFoundError:
            pass

    def _close(self) -> None:
        for folder in self.folders.values():
            os.close(folder)
        self.folders.clear()

    def _check_again(self, limits: Limits) -> None:
        now: dict[str, int] = {path: st.st_size for path, st, _d, _n in self.files._walk()
                               if stat.S_ISREG(st.st_mode)}
        staged = {target: os.stat(temp, dir_fd=folder, follow_symlinks=False).st_size
                  for target, (folder, temp, _f, _n) in self.pending.items()}
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
        for folder, temp, _final, _name in self.pending.values():
            self._drop(folder, temp)
        self.pending.clear()
        self._close()
        for segments in reversed(self.created_dirs):
            beneath.remove_empty_folder(self.files.root, segments)
