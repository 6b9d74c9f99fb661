"""A hostile program hits its limits, says so on its console, and leaves nothing behind
(issue 13, point 5). Real bwrap and prlimit, with the test's small limits
(``testkit.programs.SMALL_LIMITS``: 16 processes, 32 open files, 1 MiB per file, 1 s of
CPU) so that each limit is reached at once. Each program is bounded by itself too (300
forks, 10,000 files, 200 MB): without the limit it would end, and the test would fail,
instead of taking the machine down.
"""

import signal
from pathlib import Path

from testkit.programs import SMALL_LIMITS, Programs, processes_of

FORK_BOMB = """
import time
forks = 0
try:
    while forks < 300:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        forks += 1
    say("forked", forks, "NO LIMIT")
except OSError as error:
    say("forked", forks, "then", error)
serve()
"""

MEMORY = """
try:
    block = bytearray(2 * 2**30)
    say("bytearray 2 GB: ALLOCATED")
except MemoryError:
    say("bytearray 2 GB: MemoryError")
serve()
"""

FILES = """
held = []
try:
    while len(held) < 10000:
        held.append(open("/dev/null"))
    say("opened 10000 NO LIMIT")
except OSError as error:
    say("opened", len(held), "then", error)
for f in held:
    f.close()  # serve() needs descriptors too
serve()
"""

BIG_FILE = """
try:
    with open("big.bin", "wb") as f:
        for megabyte in range(200):
            f.write(b"x" * 2**20)
    say("wrote 200 MB NO LIMIT")
except OSError as error:
    say("big file:", error)
serve()
"""

# A user namespace of its own gives the program every capability there, enough to
# mount a tmpfs: memory that no rlimit counts (500 MB were written so under all the
# limits, --as included, before bwrap's --disable-userns).
PRIVATE_TMPFS = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
uid, gid = os.getuid(), os.getgid()
if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
    say("unshare denied:", os.strerror(ctypes.get_errno()))
else:
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"0 {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"0 {gid} 1")
    if libc.mount(b"none", b"/sandbox", b"tmpfs", 0, b"size=1g") != 0:
        say("mount denied:", os.strerror(ctypes.get_errno()))
    else:
        say("MOUNTED a tmpfs of its own")
serve()
"""

BUSY = """
import threading
threading.Thread(target=serve, daemon=True).start()
while True:
    pass
"""


def counted(console, prefix):
    line = next(line for line in console.splitlines() if line.startswith(prefix))
    return int(line.split()[1]), line


def test_fork_bomb(free_port):
    with Programs() as programs:
        uid = programs.spec("bomb", FORK_BOMB, free_port).uid
        programs.supervisor.start_program("bomb", programs.specs["bomb"])

        programs.console.wait_line("bomb", "serving")
        forks, line = counted(programs.console.text("bomb"), "forked ")
        assert "[Errno 11] Resource temporarily unavailable" in line, line
        assert forks < SMALL_LIMITS.processes
        assert len(processes_of(uid)) <= SMALL_LIMITS.processes
        programs.stop("bomb")  # and every sleeping child went with it


def test_two_gigabytes(free_port):
    with Programs() as programs:
        programs.start("memory", MEMORY, free_port)

        programs.console.wait_line("memory", "serving")
        console = programs.console.text("memory")
        assert "bytearray 2 GB: MemoryError" in console, console
        programs.stop("memory")


def test_ten_thousand_files(free_port):
    with Programs() as programs:
        programs.start("files", FILES, free_port)

        programs.console.wait_line("files", "serving")
        opened, line = counted(programs.console.text("files"), "opened ")
        assert "[Errno 24] Too many open files" in line, line
        assert opened < SMALL_LIMITS.open_files
        programs.stop("files")


def test_big_file(free_port):
    with Programs() as programs:
        programs.start("big", BIG_FILE, free_port)

        line = programs.console.wait_line("big", "big file:")
        assert "[Errno 27] File too large" in line, line
        written = Path(programs.specs["big"].files) / "big.bin"
        assert written.stat().st_size == SMALL_LIMITS.file_bytes
        programs.stop("big")


def test_busy_loop_uses_its_cpu_and_is_ended(free_port):
    with Programs() as programs:
        programs.start("busy", BUSY, free_port)

        info = programs.console.wait_exit("busy", timeout=30)
        assert not info.requested  # it ended by itself: its CPU limit, not a Stop
        assert info.returncode == -signal.SIGXCPU, info
        # What the card says (English here; pages show it in the viewer's language).
        assert f"used its {SMALL_LIMITS.cpu_seconds} s of CPU" in info.describe()
        programs.assert_gone("busy")


def test_cannot_mount_a_tmpfs_of_its_own(free_port):
    with Programs() as programs:
        programs.start("mounter", PRIVATE_TMPFS, free_port)

        programs.console.wait_line("mounter", "serving")
        console = programs.console.text("mounter")
        assert "MOUNTED" not in console, console
        assert "unshare denied:" in console, console
        programs.stop("mounter")
