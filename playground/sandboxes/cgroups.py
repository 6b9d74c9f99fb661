"""A memory and process bound around one program sandbox, with a control group.

Plain Python (no Django). The rlimits of programs.py bound each *process* (a program of
64 processes could still hold 64 x its memory); a control group bounds the sandbox as
a whole: its memory (heap, shared memory, tmpfs pages, all charged to it) and its
number of tasks. It needs root and a cgroup tree we may write: cgroup v1 (this
machine: /sys/fs/cgroup/memory and /sys/fs/cgroup/pids, checked) or v2 with the memory
and pids controllers (written from the kernel's documentation, not run here). Without
either, ``Bound.make`` returns None and the sandbox has its rlimits only (logged).

How a sandbox gets in: bwrap is started with ``--block-fd``, so it sets up its
namespaces and waits before it runs the launcher; the supervisor moves bwrap's
processes into the group (``enter``), then unblocks it. Everything the launcher and
the program start afterwards is born inside.
"""

from __future__ import annotations

import logging
import os
import signal
import time

log = logging.getLogger(__name__)

ROOT = "/sys/fs/cgroup"
PARENT = "henaserver-playground"  # our groups, one per sandbox, under this one
# Tasks of bwrap itself and of the launcher, on top of the program's own limit.
OWN_TASKS = 8
PERIOD_US = 100_000  # the cpu controller's period; the quota is a share of it


class Bound:
    """One sandbox's group (in each hierarchy that v1 keeps apart)."""

    def __init__(self, folders: list[str]) -> None:
        self.folders = folders

    @classmethod
    def make(cls, name: str, memory_bytes: int, tasks: int,
             cpu_percent: int = 0) -> Bound | None:
        """The group ``name`` with these limits, made anew; None if this host has no
        cgroup tree we may write (then the reason is logged once). ``cpu_percent``
        (of one core, 0: no cap) where a cpu controller is there: RLIMIT_CPU is a budget
        per process, and a program that starts a new busy child whenever one is killed
        at its limit would take every core for as long as it runs (review)."""
        if os.geteuid() != 0:
            return None
        try:
            if os.path.exists(f"{ROOT}/cgroup.controllers"):
                return cls._make_v2(name, memory_bytes, tasks + OWN_TASKS, cpu_percent)
            if os.path.isdir(f"{ROOT}/memory") and os.path.isdir(f"{ROOT}/pids"):
                return cls._make_v1(name, memory_bytes, tasks + OWN_TASKS, cpu_percent)
        except OSError as error:
            _unavailable(str(error))
            return None
        _unavailable("no cgroup tree with memory and pids")
        return None

    @classmethod
    def _make_v1(cls, name: str, memory_bytes: int, tasks: int, cpu_percent: int) -> Bound:
        memory = _fresh(f"{ROOT}/memory/{PARENT}/{name}")
        pids = _fresh(f"{ROOT}/pids/{PARENT}/{name}")
        bound = cls([memory, pids])
        try:
            if cpu_percent and os.path.isdir(f"{ROOT}/cpu"):
                cpu = _fresh(f"{ROOT}/cpu/{PARENT}/{name}")
                bound.folders.append(cpu)
                _write(cpu, "cpu.cfs_period_us", PERIOD_US)
                _write(cpu, "cpu.cfs_quota_us", PERIOD_US * cpu_percent // 100)
            _write(memory, "memory.limit_in_bytes", memory_bytes)
            if os.path.exists(f"{memory}/memory.memsw.limit_in_bytes"):  # no swap either
                _write(memory, "memory.memsw.limit_in_bytes", memory_bytes)
            _write(pids, "pids.max", tasks)
        except OSError:
            bound.remove()
            raise
        return bound

    @classmethod
    def _make_v2(cls, name: str, memory_bytes: int, tasks: int, cpu_percent: int) -> Bound:
        parent = f"{ROOT}/{PARENT}"
        os.makedirs(parent, exist_ok=True)
        for folder in (ROOT, parent):  # let our groups have the two controllers
            _write(folder, "cgroup.subtree_control", "+memory +pids")
            try:  # cpu too, where the kernel offers it (optional)
                _write(folder, "cgroup.subtree_control", "+cpu")
            except OSError:
                pass
        group = _fresh(f"{parent}/{name}")
        bound = cls([group])
        try:
            _write(group, "memory.max", memory_bytes)
            if os.path.exists(f"{group}/memory.swap.max"):
                _write(group, "memory.swap.max", 0)
            _write(group, "pids.max", tasks)
            if cpu_percent and os.path.exists(f"{group}/cpu.max"):
                _write(group, "cpu.max", f"{PERIOD_US * cpu_percent // 100} {PERIOD_US}")
        except OSError:
            bound.remove()
            raise
        return bound

    def enter(self, pid: int) -> None:
        """Move ``pid`` and every process below it into the group. A child forked
        while its parent moves may stay behind, so the tree is walked again until a
        walk finds nothing new (bwrap is blocked: it soon stops forking)."""
        moved: set[int] = set()
        for _attempt in range(100):
            members = set(_tree(pid)) - moved
            if not members:
                return
            for member in members:
                for folder in self.folders:
                    try:
                        _write(folder, "cgroup.procs", member)
                    except ProcessLookupError:
                        pass  # gone meanwhile
            moved |= members
        raise OSError(f"the processes of {pid} kept changing")

    def members(self) -> set[int]:
        """The pids in the group now."""
        found: set[int] = set()
        for folder in self.folders:
            try:
                found |= {int(pid) for pid in _read(folder, "cgroup.procs").split()}
            except (OSError, ValueError):
                continue
        return found

    def end(self, wait: float = 2.0) -> None:
        """SIGKILL whatever is still in the group, then remove it: the end of a sandbox.
        Ending bwrap normally ends its namespace and all in it, but bwrap's pid 1 there
        runs as the program's uid and is dumpable: a program may rewrite its code
        (/proc/1/mem) to undo --die-with-parent and live on after Stop (review; seen:
        test_program_hostile_init.py). The group holds every process of this run (and
        of no other run: its name is this run's, ``programs.plan``)."""
        deadline = time.monotonic() + wait
        while (members := self.members()) and time.monotonic() < deadline:
            for pid in members:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)
        self.remove(wait)

    @staticmethod
    def sweep(prefix: str) -> None:
        """Remove the empty groups whose name starts with ``prefix`` (earlier runs'
        left by a playground that was killed; a busy one stays)."""
        for folder in (f"{ROOT}/{PARENT}", *(f"{ROOT}/{h}/{PARENT}"
                                            for h in ("memory", "pids", "cpu"))):
            try:
                names = [n for n in os.listdir(folder) if n.startswith(prefix)]
            except OSError:
                continue
            for name in names:
                try:
                    os.rmdir(f"{folder}/{name}")
                except OSError:
                    pass

    def oom_kills(self) -> int:
        """How many of its processes the kernel killed for the group's memory (v1
        ``memory.oom_control``, v2 ``memory.events``: ``oom_kill N``)."""
        for folder in self.folders:
            for name in ("memory.oom_control", "memory.events"):
                try:
                    rows = dict(line.split() for line in _read(folder, name).splitlines())
                    return int(rows.get("oom_kill", 0))
                except (OSError, ValueError):
                    continue
        return 0

    def remove(self, wait: float = 2.0) -> None:
        """Remove the group once its tasks are gone (they die with the namespace)."""
        deadline = time.monotonic() + wait
        for folder in self.folders:
            while True:
                try:
                    os.rmdir(folder)
                    break
                except FileNotFoundError:
                    break
                except OSError as error:  # EBUSY: a task is still exiting
                    if time.monotonic() > deadline:
                        log.warning("cgroup %s not removed: %s", folder, error)
                        break
                    time.sleep(0.01)


def _fresh(folder: str) -> str:
    """``folder`` made empty: an earlier run's group of the same name is removed."""
    if os.path.isdir(folder):
        Bound([folder]).remove()
    os.makedirs(folder)
    return folder


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            with open(f"/proc/{current}/task/{current}/children") as f:
                todo += [int(child) for child in f.read().split()]
        except OSError:
            continue
    return found


def _write(folder: str, name: str, value: object) -> None:
    with open(f"{folder}/{name}", "w") as f:
        f.write(str(value))


def _read(folder: str, name: str) -> str:
    with open(f"{folder}/{name}") as f:
        return f.read()


_said = False


def _unavailable(why: str) -> None:
    global _said
    if not _said:
        _said = True
        log.warning("program sandboxes get no control group here (%s): each process "
                    "is bounded by its rlimits, the sandbox as a whole is not", why)
