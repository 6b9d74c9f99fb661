"""What the playground costs the machine, read from /proc: its daphne process (RSS,
threads, file descriptors) and every descendant, each sorted into the part of a sandbox
it is, for bench/class_bench.py.

A henaserver sandbox is one child (`python -m henaserver ...`). A program sandbox is
bwrap (two processes: bwrap forks once into the new namespaces), the launcher (the
forwarder into the sandbox's network), the learner's program, and the capture relay
(`python -m henaserver relay`, a child of daphne outside the sandbox). Their PIDs are
the host's (a PID namespace is still seen whole from outside).

Memory is given twice: RSS (what `ps` says; shared pages counted in every process) and
PSS (shared pages split between the processes sharing them, from smaps_rollup): the sum
of PSS is what the processes together take from the machine.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

PARTS = ("henaserver", "relay", "bwrap", "launcher", "program", "other")


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:  # the process ended between the listing and the read
        return ""


def _status(pid: int) -> dict[str, str]:
    lines = _read(f"/proc/{pid}/status").splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def _kib(value: str) -> int:
    return int(value.split()[0]) if value else 0


def pss_kib(pid: int) -> int:
    for line in _read(f"/proc/{pid}/smaps_rollup").splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process used so far (its threads included)."""
    fields = _read(f"/proc/{pid}/stat").rpartition(")")[2].split()
    if len(fields) < 13:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for name in os.listdir("/proc"):
        if name.isdigit():
            ppid = _status(int(name)).get("PPid")
            if ppid:
                children[int(ppid)].append(int(name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def part_of(command: str) -> str:
    words = command.split()
    if not words:
        return "other"
    if words[0].endswith("bwrap"):
        return "bwrap"
    if "launcher.py" in command:
        return "launcher"
    if "-m henaserver relay" in command:
        return "relay"
    if "-m henaserver" in command:
        return "henaserver"
    if "main.py" in command:  # the learner's program (the starters' main file)
        return "program"
    return "other"


@dataclass
class Sample:
    daphne_rss_kib: int
    daphne_pss_kib: int
    daphne_threads: int
    daphne_fds: int
    daphne_cpu: float = 0.0  # CPU seconds so far
    at: float = 0.0  # time.monotonic() of the sample
    children_cpu: float = 0.0  # CPU seconds so far of the descendants alive now
    # part -> [processes, RSS KiB, PSS KiB, threads, fds] over all descendants of that part
    parts: dict[str, list[int]] = field(default_factory=dict)

    @property
    def total_pss_kib(self) -> int:
        return self.daphne_pss_kib + sum(p[2] for p in self.parts.values())

    @property
    def total_rss_kib(self) -> int:
        return self.daphne_rss_kib + sum(p[1] for p in self.parts.values())

    @property
    def all_fds(self) -> int:
        return self.daphne_fds + sum(p[4] for p in self.parts.values())

    @property
    def all_threads(self) -> int:
        return self.daphne_threads + sum(p[3] for p in self.parts.values())


def sample(daphne: int) -> Sample:
    status = _status(daphne)
    result = Sample(_kib(status.get("VmRSS", "")), pss_kib(daphne),
                    int(status.get("Threads", "0") or 0), fds(daphne), cpu_seconds(daphne),
                    time.monotonic(), parts={part: [0, 0, 0, 0, 0] for part in PARTS})
    for pid in descendants(daphne):
        child = _status(pid)
        row = result.parts[part_of(cmdline(pid))]
        row[0] += 1
        row[1] += _kib(child.get("VmRSS", ""))
        row[2] += pss_kib(pid)
        row[3] += int(child.get("Threads", "0") or 0)
        row[4] += fds(pid)
        result.children_cpu += cpu_seconds(pid)
    return result
