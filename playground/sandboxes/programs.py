"""A learner's own program, run under bubblewrap: the command line and its limits.

Plain Python (no Django): the site builds a ``ProgramSpec`` from a sandbox row and its
settings, and the supervisor (``Supervisor.start_program``) runs ``bwrap_argv(spec)``.
The design, and the experiments behind every option, are in docs/program-sandboxes.md.

Inside the sandbox (paths as the program sees them):

* ``/usr`` read-only (the interpreter must live there: ``python`` is a setting, never
  ``sys.executable``, which may be in a folder the sandbox's uid cannot read);
* ``/sandbox/files``, the sandbox's folder, writable, the program's working directory;
* ``/sandbox/launcher.py`` (launcher.py, read-only), which starts the program under
  ``prlimit``, reports what it listens on, and forwards a Unix socket to it: the
  relay's way in (the program has its own network: nothing else reaches it, and it
  reaches nothing). The supervisor binds that socket, ``RUN/program.sock``, outside and
  passes the listening descriptor in (``socket_fd``): the run folder is never in the
  sandbox. Were it bound in (writable, for the launcher to bind the socket there), the
  program could replace ``program.sock`` with a symlink to any Unix socket of the host
  (a database's), and the relay, outside, would connect to it (seen: the relay
  answered with a root-only socket's bytes);
* ``/etc/hosts`` with ``localhost`` only, so ``bind(("localhost", port))`` works;
* the rest of ``/`` is bwrap's empty tmpfs, then remounted read-only.
"""

from __future__ import annotations

import functools
import grp
import importlib.util
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..refusals import Message
from .cgroups import Bound

# (also named here, as before confine.py existed: callers use programs.spawn ...)
from .confine import data_pipe as data_pipe
from .confine import end_every_process_of as end_every_process_of
from .confine import seccomp_filter as seccomp_filter
from .confine import spawn as spawn
from .exits import PROGRAM_ENDED, UID_TAKEN, ExitInfo, StartError

# Where things are inside the sandbox.
INSIDE = "/sandbox"
INSIDE_FILES = f"{INSIDE}/files"
INSIDE_RUN = f"{INSIDE}/run"
INSIDE_LAUNCHER = f"{INSIDE}/launcher.py"
INSIDE_LIB = f"{INSIDE}/lib"  # holds a read-only henaserver for the starter that runs it
SOCKET_NAME = "program.sock"
# What a program's HOST says: inside its own network only `lo` exists, so "", 0.0.0.0
# and 127.0.0.1 are the same; 0.0.0.0 is what the tutorial's "" means.
INSIDE_HOST = "0.0.0.0"
HOSTS = b"127.0.0.1 localhost\n::1 localhost\n"
LAUNCHER = str(Path(__file__).with_name("launcher.py"))
NOBODY = 65534  # the uid isolation_missing tries bwrap as
# The longest path a Unix socket may have (sun_path is 108 bytes with its NUL).
MAX_SOCKET_PATH = 107


@dataclass(frozen=True)
class ProgramLimits:
    """The program's rlimits (``prlimit`` inside, for the program only: the launcher
    that reports on it is not limited). Defaults measured in the design: ``data`` for
    the heap, 1 MiB stacks (200 threads fit), processes per uid (threads count too).
    ``address`` too, because shared anonymous memory (``mmap(-1, 2 GB)``, memfds) is
    not counted by ``data`` (C measured 512 MB touched); with MALLOC_ARENA_MAX=2 in the
    environment glibc's 64 MiB arenas per thread no longer eat it (200 threads fit)."""

    cpu_seconds: int = 60
    data_bytes: int = 256 * 2**20
    stack_bytes: int = 2**20
    processes: int = 64
    open_files: int = 256
    file_bytes: int = 64 * 2**20
    address_bytes: int = 512 * 2**20
    # The whole sandbox's memory and tasks, where a control group can be made
    # (cgroups.py): rlimits alone allow processes x data.
    memory_bytes: int = 512 * 2**20
    # The folder as a whole (folder_watch.py): file_bytes bounds each file only, and
    # open_files only the open ones; past these the sandbox is ended (a bound, checked
    # every half second, not a quota).
    folder_bytes: int = 256 * 2**20
    folder_entries: int = 10_000
    # Percent of one core the sandbox as a whole may use (a control group's cpu quota,
    # where there is one; 0: no cap). cpu_seconds is a budget per process only.
    cpu_percent: int = 50

    def prlimit_argv(self) -> list[str]:
        # CPU as soft:hard = N:N+1, so the program gets SIGXCPU ("used its N s of CPU")
        # before the hard limit's bare SIGKILL.
        return ["prlimit", f"--cpu={self.cpu_seconds}:{self.cpu_seconds + 1}",
                f"--data={self.data_bytes}", f"--stack={self.stack_bytes}",
                f"--nproc={self.processes}", f"--nofile={self.open_files}",
                f"--fsize={self.file_bytes}", f"--as={self.address_bytes}", "--core=0",
                "--"]


@dataclass(frozen=True)
class ProgramSpec:
    """Everything needed to run one program sandbox."""

    files: str  # the sandbox's folder (the program's cwd, writable)
    run_dir: str  # outside the files: holds program.sock
    main_file: str  # relative to files, e.g. "main.py"
    host: str  # where the relay listens (the public address)
    port: int
    uid: int  # PLAYGROUND_PROGRAM_UID_BASE + sandbox pk
    python: str = "/usr/bin/python3"
    bwrap: str = "bwrap"
    limits: ProgramLimits = field(default_factory=ProgramLimits)
    with_henaserver: bool = False  # bind henaserver read-only, PYTHONPATH (starter)

    @property
    def socket_path(self) -> str:
        """The launcher's socket as seen from outside (the relay's ``--to unix:``)."""
        return os.path.join(self.run_dir, SOCKET_NAME)


def isolation_missing(bwrap: str) -> str | None:
    """None when programs can run isolated here, else why not, in a few words (for
    logs and the page): bwrap must exist, we must be root to run each program as its
    own uid (RLIMIT_NPROC counts per uid; as the playground's own uid a fork bomb would
    count, and starve, the playground's processes), and bwrap must be able to make its
    namespaces as an unprivileged uid (a kernel may forbid that)."""
    path = shutil.which(bwrap)
    if path is None:
        return "no bwrap"
    if os.geteuid() != 0:
        return "not root"
    return _bwrap_fails(path)


@functools.lru_cache(maxsize=8)
def _bwrap_fails(path: str) -> str | None:
    """Run ``path`` once as nobody with the namespaces a program gets: None if it
    works, else its first line of complaint (checked once per process)."""
    try:
        done = subprocess.run(
            [path, "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin",
             "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
             "--unshare-all", "--unshare-user", "--disable-userns", "--", "/usr/bin/true"],
            user=NOBODY, group=NOBODY, extra_groups=[], env={}, stdin=subprocess.DEVNULL,
            capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bwrap does not run: {error}"
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"bwrap does not work here: {why[0] if why else done.returncode}"
    return None


def exit_outcome(info: ExitInfo) -> Message | None:
    """A program that ended by itself with code 0 finished as it meant to (the sandbox
    is *stopped*, as modes.exit_outcome says for the once mode); any other end is a
    crash, described by ``info.message()`` and its console (``info.stderr_tail``)."""
    if info.program and info.returncode == 0 and not info.requested:
        return Message(PROGRAM_ENDED)
    return None


def henaserver_dir() -> str:
    """The henaserver package's folder, found without importing it (the playground
    never imports henaserver: it runs it)."""
    spec = importlib.util.find_spec("henaserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the henaserver package is not installed")
    return str(next(iter(spec.submodule_search_locations)))


def environment(spec: ProgramSpec, *, port: int, inside: bool = True) -> dict[str, str]:
    """The program's whole environment (bwrap clears ours first). ``port`` is where the
    program must listen: the sandbox's own port under bwrap, an internal one without."""
    home = INSIDE_FILES if inside else spec.files
    env = {
        "PORT": str(port), "HOST": INSIDE_HOST if inside else "127.0.0.1",
        "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
        "PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "MALLOC_ARENA_MAX": "2",  # see ProgramLimits: threads fit under --as
    }
    if spec.with_henaserver:
        env["PYTHONPATH"] = INSIDE_LIB if inside else os.path.dirname(henaserver_dir())
    return env


def launcher_argv(spec: ProgramSpec, *, status_fd: int, port: int,
                  socket_fd: int | None = None, socket_path: str | None = None,
                  isolated: bool = True) -> list[str]:
    """The launcher and, after ``--``, the program under its limits. The launcher
    accepts on ``socket_fd`` (a listening Unix socket) or binds ``socket_path``.
    Without isolation (no bwrap) the launcher is run from here, the program listens
    on 127.0.0.1 and an internal ``port`` of this host, and only its own sockets
    count."""
    launcher, host = (INSIDE_LAUNCHER, INSIDE_HOST) if isolated else (LAUNCHER, "127.0.0.1")
    way = ["--socket-fd", str(socket_fd)] if socket_fd is not None else [
        "--socket", str(socket_path)]
    return [
        spec.python, launcher, "--status-fd", str(status_fd), "--port", str(port),
        *way, "--main", spec.main_file,
        *(() if isolated else ("--own-sockets",)),
        "--", *spec.limits.prlimit_argv(), spec.python, spec.main_file, str(port), host,
    ]


def bwrap_argv(spec: ProgramSpec, *, status_fd: int, hosts_fd: int,
               socket_fd: int | None = None, seccomp_fd: int | None = None,
               block_fd: int | None = None) -> list[str]:
    """The whole command: bwrap, then the launcher inside it. ``status_fd`` is the write
    end of the launcher's status pipe, ``hosts_fd`` a readable fd holding ``HOSTS`` and
    ``socket_fd`` the listening Unix socket (``listen_socket``); all passed to bwrap
    with ``pass_fds``. Without ``socket_fd`` (tools, benchmarks: never for a learner,
    see the module docstring) the run folder is bound at /sandbox/run and the launcher
    binds the socket there. ``seccomp_fd``: a readable fd holding ``seccomp_filter()``
    (bwrap applies it to the launcher and the program). ``block_fd``: bwrap waits for
    a byte there before it runs the launcher (time to put it in a control group)."""
    argv = [
        spec.bwrap,
        "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin",
        "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
        "--symlink", "usr/sbin", "/sbin",
        "--ro-bind-data", str(hosts_fd), "/etc/hosts",
        "--ro-bind", LAUNCHER, INSIDE_LAUNCHER,
        "--bind", spec.files, INSIDE_FILES,
    ]
    if socket_fd is None:
        argv += ["--bind", spec.run_dir, INSIDE_RUN]
    if spec.with_henaserver:
        argv += ["--ro-bind", henaserver_dir(), f"{INSIDE_LIB}/henaserver"]
    argv += [
        "--chdir", INSIDE_FILES, "--dev", "/dev", "--proc", "/proc", "--remount-ro", "/",
        # /dev is a tmpfs of its own (memory nobody bounds): read-only too (its device
        # nodes still work).
        "--remount-ro", "/dev",
        # No user namespace inside: "root" in one could mount a tmpfs (memory again)
        # and reach much more of the kernel.
        "--unshare-all", "--unshare-user", "--disable-userns", "--new-session",
        # Killing bwrap kills the whole sandbox at once. It is PR_SET_PDEATHSIG, which
        # fires when the *thread* that started bwrap ends: start it only from a thread
        # that lives as long as the process (``spawn``).
        "--die-with-parent", "--clearenv",
    ]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    if block_fd is not None:
        argv += ["--block-fd", str(block_fd)]
    for name, value in environment(spec, port=spec.port).items():
        argv += ["--setenv", name, value]
    return argv + launcher_argv(spec, status_fd=status_fd, port=spec.port,
                                socket_fd=socket_fd,
                                socket_path=f"{INSIDE_RUN}/{SOCKET_NAME}")


def prepare(spec: ProgramSpec, *, owner: int | None) -> None:
    """Make the run folder (ours alone, 0700) and hand the files to ``owner`` (the
    sandbox's uid; None without isolation): uploads made them root's, and the program
    must write them.

    The folder is the program's while it runs: it could swap a subfolder for a symlink
    to /etc while we walk it. So nothing of the uid runs first (an earlier run's, in
    any playground process, is ended), and the walk goes by directory descriptors
    (``os.fwalk``, which never follows a symlink), changing each entry relative to
    its folder's descriptor."""
    os.makedirs(spec.run_dir, mode=0o700, exist_ok=True)
    os.chmod(spec.run_dir, 0o700)
    if owner is None:
        return
    who = id_owner(owner)
    if who is not None:  # never kill, chown to, or run as someone else's id
        raise StartError("exited", Message(UID_TAKEN, uid=owner, who=who))
    end_every_process_of(owner)
    for _folder, _dirs, names, folder_fd in os.fwalk(spec.files, follow_symlinks=False):
        os.chown(folder_fd, owner, owner)
        for name in names:
            os.chown(name, owner, owner, dir_fd=folder_fd, follow_symlinks=False)


def id_owner(uid: int) -> str | None:
    """Who else has ``uid`` as a user or group id here, in a few English words, or
    None. A sandbox's id must be nobody's: its start kills every process of the id and
    hands it the folder (review: the default base, 200000, lies in the second user's
    subordinate ids on a Debian with rootless containers: 165536-231071)."""
    try:
        return f"the user {pwd.getpwuid(uid).pw_name}"
    except KeyError:
        pass
    try:
        return f"the group {grp.getgrgid(uid).gr_name}"
    except KeyError:
        pass
    for path in ("/etc/subuid", "/etc/subgid"):
        try:
            with open(path) as f:
                rows = [line.strip().split(":") for line in f]
        except OSError:
            continue
        for row in rows:
            if len(row) == 3 and row[1].isdigit() and row[2].isdigit() and (
                    int(row[1]) <= uid < int(row[1]) + int(row[2])):
                return f"a subordinate id of {row[0]} ({path})"
    return None


def listen_socket(spec: ProgramSpec) -> socket.socket:
    """The relay's way to the program: a Unix socket bound at ``spec.socket_path``
    (an earlier run's is replaced), listening; its descriptor goes to the launcher."""
    if os.path.lexists(spec.socket_path):
        os.unlink(spec.socket_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(spec.socket_path)
        listener.listen(128)
    except OSError:
        listener.close()
        raise
    return listener


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on ``host`` now (only a hint: for the program without isolation)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def hosts_pipe() -> int:
    """A readable fd holding ``HOSTS``."""
    return data_pipe(HOSTS)


@dataclass
class Plan:
    """How to start one program sandbox (``plan``): the command, the descriptors to
    pass (the status pipe's write end first), its environment and folder, and its
    control group with the pipe that releases bwrap once it is inside."""

    cmd: list[str]
    fds: tuple[int, ...]
    env: dict[str, str]
    cwd: str | None
    bound: Bound | None = None
    block_fd: int | None = None  # write a byte once bwrap is in ``bound``


def plan(spec: ProgramSpec, *, isolated: bool, owner: int | None,
         status_fd: int) -> Plan:
    """Bind the relay's socket and gather what bwrap (or, without isolation, the
    launcher) gets. Every descriptor in ``fds`` is the child's: the caller closes
    them once it started (Supervisor._popen does)."""
    socket_fd = listen_socket(spec).detach()
    if not isolated:  # no namespace: the program listens on an internal port here
        port = free_port()
        return Plan(launcher_argv(spec, status_fd=status_fd, port=port,
                                  socket_fd=socket_fd, isolated=False),
                    (status_fd, socket_fd), environment(spec, port=port, inside=False),
                    spec.files)
    hosts_fd = hosts_pipe()
    fds: tuple[int, ...] = (status_fd, socket_fd, hosts_fd)
    seccomp = seccomp_filter()
    seccomp_fd = None if seccomp is None else data_pipe(seccomp)
    fds += () if seccomp_fd is None else (seccomp_fd,)
    if owner is not None:  # a name of this run's own: its end kills all in it (Bound.end)
        Bound.sweep(f"uid-{spec.uid}-")
    bound = None if owner is None else Bound.make(
        f"uid-{spec.uid}-{os.getpid()}-{secrets.token_hex(4)}", spec.limits.memory_bytes,
        spec.limits.processes, spec.limits.cpu_percent)
    blocked_fd = block_fd = None
    if bound is not None:
        blocked_fd, block_fd = os.pipe()
        fds += (blocked_fd,)
    cmd = bwrap_argv(spec, status_fd=status_fd, socket_fd=socket_fd, hosts_fd=hosts_fd,
                     seccomp_fd=seccomp_fd, block_fd=blocked_fd)
    # bwrap's own environment: it clears it for the launcher (--clearenv).
    return Plan(cmd, fds, {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, None, bound,
                block_fd)
