"""File operations beneath a sandbox's folder that whoever changes the folder meanwhile
cannot lead elsewhere. No Django here.

A learner's program (a program sandbox) runs while the playground lists, reads, writes
and deletes its files, and it owns the folder: between our check of a name and our use
of it, it can swap the name, or a folder on the way, for a symlink to any path of the
host (``renameat2(RENAME_EXCHANGE)`` does it atomically, in a loop). Checking a path
and then opening the path string again is therefore never enough: the playground,
root, would read or write wherever the symlink points
(tests/playground/sandboxes/test_program_hostile_symlinks.py measured hundreds of reads
of the secret key in 3,000 tries, and a write in the data folder).

So every operation here walks from the root's own descriptor one name at a time with
``O_NOFOLLOW`` (a symlink on the way is refused, never followed) and acts on the last
name relative to its folder's descriptor (``dir_fd``): whatever the names become
meanwhile, nothing outside the root is reached. ``safepaths.check_relpath`` still
judges the names first.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
from typing import BinaryIO

from ..refusals import gettext_noop
from .safepaths import TEMP_PREFIX, UnsafePath

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# What opening a name with O_NOFOLLOW says when it is a symlink, or a folder on the way
# is not a folder (a file, or a symlink: O_DIRECTORY|O_NOFOLLOW).
NOT_A_WAY = {errno.ELOOP, errno.ENOTDIR}
LEADS_OUT = gettext_noop("the path %(name)s leads outside the site's folder")


def _refused(segments: tuple[str, ...]) -> UnsafePath:
    return UnsafePath(LEADS_OUT, name=repr("/".join(segments)[:80]))


def open_folder(root: str, segments: tuple[str, ...], *, create: bool = False,
                created: list[tuple[str, ...]] | None = None) -> int:
    """A descriptor of the folder ``root/segments``, reached without following any
    symlink; with ``create``, missing folders are made (0755) and listed in
    ``created``. FileNotFoundError if it is missing; UnsafePath if a name on the way
    is a symlink or not a folder."""
    fd = os.open(root, DIR_FLAGS)
    try:
        for depth, name in enumerate(segments):
            try:
                inner = os.open(name, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                try:
                    os.mkdir(name, 0o755, dir_fd=fd)
                    if created is not None:
                        created.append(segments[:depth + 1])
                except FileExistsError:
                    pass  # made meanwhile: opened (and judged) below
                inner = os.open(name, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = inner
    except OSError as exc:
        os.close(fd)
        if exc.errno in NOT_A_WAY:
            raise _refused(segments) from None
        raise
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_file(root: str, segments: tuple[str, ...]) -> BinaryIO:
    """The regular file ``root/segments``, open for reading. FileNotFoundError if it is
    missing, a symlink, or not a regular file (as henaserver answers 404 for them)."""
    try:
        folder = open_folder(root, segments[:-1])
    except UnsafePath:
        raise FileNotFoundError("/".join(segments)) from None
    try:
        fd = os.open(segments[-1], READ_FLAGS, dir_fd=folder)
    except OSError as exc:
        if exc.errno in NOT_A_WAY:
            raise FileNotFoundError("/".join(segments)) from None
        raise
    finally:
        os.close(folder)
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO, a device, a folder
        os.close(fd)
        raise FileNotFoundError("/".join(segments))
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_head(folder: int, name: str, size: int) -> bytes | None:
    """The first ``size`` bytes of the regular file ``name`` in ``folder`` (a
    descriptor), None if it is not one any more."""
    try:
        fd = os.open(name, READ_FLAGS, dir_fd=folder)
    except OSError:
        return None
    try:
        return os.read(fd, size) if stat.S_ISREG(os.fstat(fd).st_mode) else None
    except OSError:
        return None
    finally:
        os.close(fd)


def new_temp(folder: int) -> tuple[BinaryIO, str]:
    """A new temporary file in ``folder`` (hidden from listings by its prefix), 0644 so
    a server can read it once it is moved into place, and its name."""
    name = f"{TEMP_PREFIX}{secrets.token_hex(8)}.tmp"
    fd = os.open(name, NEW_FLAGS, 0o644, dir_fd=folder)
    os.fchmod(fd, 0o644)  # whatever the umask
    return os.fdopen(fd, "wb"), name


def replace(folder: int, temp: str, name: str) -> None:
    """Move ``temp`` over ``name``, both in ``folder``, in one step (``atomic.replace``
    says why the mtime moves past the old one's). A symlink there is replaced, never
    followed."""
    try:
        old = os.stat(name, dir_fd=folder, follow_symlinks=False).st_mtime_ns
    except FileNotFoundError:
        old = None
    # Neither call follows a symlink: the folder's owner may have swapped ``temp`` for
    # one meanwhile (then it is moved as a name, like anything else of theirs).
    if old is not None and os.stat(temp, dir_fd=folder,
                                   follow_symlinks=False).st_mtime_ns <= old:
        os.utime(temp, ns=(old + 1000, old + 1000), dir_fd=folder, follow_symlinks=False)
    os.replace(temp, name, src_dir_fd=folder, dst_dir_fd=folder)


def remove(root: str, segments: tuple[str, ...]) -> None:
    """Delete ``root/segments``: a file or a symlink itself, or a folder with everything
    in it (``shutil.rmtree`` with ``dir_fd`` never follows a symlink either)."""
    folder = open_folder(root, segments[:-1])
    try:
        name = segments[-1]
        mode = os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode
        if stat.S_ISDIR(mode):
            shutil.rmtree(name, dir_fd=folder)
        else:
            os.unlink(name, dir_fd=folder)
    finally:
        os.close(folder)


def remove_empty_folder(root: str, segments: tuple[str, ...]) -> None:
    """rmdir ``root/segments`` if it is still an empty folder; nothing otherwise."""
    try:
        folder = open_folder(root, segments[:-1])
    except (OSError, UnsafePath):
        return
    try:
        os.rmdir(segments[-1], dir_fd=folder)
    except OSError:
        pass
    finally:
        os.close(folder)
