"""What confines a program sandbox besides bwrap's command line (programs.py): the one
thread that starts every bwrap, the seccomp filter, data handed to bwrap through pipes,
and the end of every process of a sandbox's uid.

Plain Python (no Django), used by the supervisor (``Supervisor.start_program``).
"""

from __future__ import annotations

import os
import queue
import struct
import subprocess
import threading
from collections.abc import Callable
from typing import Any


def data_pipe(data: bytes) -> int:
    """A readable fd holding ``data`` (bwrap reads ``--ro-bind-data`` and ``--seccomp``
    from one: no file to keep)."""
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, data)  # far below a pipe's buffer: never blocks
    finally:
        os.close(write_fd)
    return read_fd


# Memory no rlimit counts, and no process: memfds written to (never mapped) and System
# V shared memory segments live in the kernel's shmem, charged to nobody (C measured
# 1.2 GB each under --data=256MiB --as=512MiB). Without a memory cgroup, the program is
# refused the two system calls that make them (EPERM). A seccomp filter, classic BPF:
# the architecture must be the one we know (else every call fails: a filter for
# another machine's numbers would let them through), x32 calls are refused.
_SECCOMP = {  # machine: (AUDIT_ARCH_*, memfd_create, shmget)
    "x86_64": (0xC000003E, 319, 29),
    "aarch64": (0xC00000B7, 279, 194),
}


def seccomp_filter() -> bytes | None:
    """The filter (struct sock_filter[]), or None on an unknown machine."""
    known = _SECCOMP.get(os.uname().machine)
    if known is None:
        return None
    arch, memfd_create, shmget = known
    load, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, JMP|JEQ|K, JMP|JGE|K
    allow, refuse = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ALLOW, RET_ERRNO | EPERM
    program = [
        (load, 0, 0, 4),  # seccomp_data.arch
        (jeq, 0, 5, arch),  # another architecture: refuse
        (load, 0, 0, 0),  # seccomp_data.nr
        (jge, 3, 0, 0x40000000),  # x32 numbers: refuse
        (jeq, 2, 0, memfd_create),
        (jeq, 1, 0, shmget),
        (ret, 0, 0, allow),
        (ret, 0, 0, refuse),
    ]
    return b"".join(struct.pack("=HBBI", *insn) for insn in program)


def end_every_process_of(uid: int) -> None:
    """SIGKILL whatever still runs as the sandbox's own uid (nothing else runs as it):
    under bwrap the pid namespace ends them already; without it, a ``setsid``
    grandchild would outlive its launcher. ``kill -KILL -1`` run *as that uid* signals
    every process of the uid but itself, in one system call (a fork bomb cannot
    outrun it). Only for root, which may take the uid."""
    if os.geteuid() != 0:
        return
    subprocess.run(["/usr/bin/kill", "-KILL", "-1"], user=uid, group=uid,
                   extra_groups=[], env={}, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


class _Spawner:
    """One thread, alive as long as the process, that starts every bwrap.

    bwrap's ``--die-with-parent`` is PR_SET_PDEATHSIG, which the kernel fires when the
    *thread* that forked bwrap exits, not the process: started from a request's thread
    (daphne runs each sync view in a worker thread), the sandbox died with the request.
    A daemon thread that never returns ends only with the process, when the sandbox
    must end anyway."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.jobs: queue.SimpleQueue[tuple[Callable[[], Any], list[Any],
                                           threading.Event]] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.pid = 0

    def call(self, job: Callable[[], Any]) -> Any:
        with self.lock:  # one per process (a fork gets its own)
            if self.thread is None or self.pid != os.getpid():
                self.thread = threading.Thread(target=self.serve, daemon=True,
                                               name="program-spawner")
                self.pid = os.getpid()
                self.thread.start()
        result: list[Any] = []
        done = threading.Event()
        self.jobs.put((job, result, done))
        done.wait()
        if isinstance(result[0], BaseException):
            raise result[0]
        return result[0]

    def serve(self) -> None:
        while True:
            job, result, done = self.jobs.get()
            try:
                result.append(job())
            except BaseException as error:  # handed to the caller, raised there
                result.append(error)
            done.set()


spawn = _Spawner().call
