"""Memory that RLIMIT_DATA does not count (issue 13, point 5): a shared anonymous
mapping, memfds and System V segments live in the kernel's shmem (tmpfs). RLIMIT_AS
bounds a mapping, but memfds written to (never mapped) and System V segments that
outlive their detach are charged to no process's data or address space at all: only a
memory cgroup around the sandbox bounds them. Each program stops by itself at about
1.2 GB, so that a sandbox without the bound fails the test instead of taking the
machine down.

The limits here are the test's usual small ones except for files: 64 open files of
64 MiB each could hold 4 GiB of memfd memory, far over the sandbox's 256 MiB.
"""

import dataclasses
import signal

from testkit.programs import SMALL_LIMITS, Programs

from playground.sandboxes.exits import StartError

LIMITS = dataclasses.replace(SMALL_LIMITS, open_files=64, file_bytes=64 * 2**20,
                             cpu_seconds=10)  # writing 1.2 GB takes more than 1 s
HELD = "held:"

SHARED_MAPPING = """
import mmap
size = 1200 * 2**20
try:
    shared = mmap.mmap(-1, size)  # MAP_SHARED|MAP_ANONYMOUS: shmem, not RLIMIT_DATA
    for page in range(0, size, 4096):
        shared[page] = 1
    say("held:", size // 2**20, "MB in a shared mapping")
except OSError as error:
    say("shared mapping refused:", error)
    say("held: 0 MB")
serve()
"""

MEMFD = """
held, chunk = [], b"x" * 2**20
try:
    while len(held) < 20:
        fd = os.memfd_create("hostile")
        for _megabyte in range(60):
            os.write(fd, chunk)
        held.append(fd)
except OSError as error:
    say("memfd refused:", error)
say("held:", 60 * len(held), "MB in memfds")
serve()
"""

SYSV_SHM = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmdt.argtypes = [ctypes.c_void_p]
IPC_PRIVATE, IPC_CREAT, SIZE = 0, 0o1000, 300 * 2**20
segments = 0
while segments < 4:  # each one outlives its detach, until the IPC namespace ends
    segment = libc.shmget(IPC_PRIVATE, SIZE, IPC_CREAT | 0o600)
    address = libc.shmat(segment, None, 0) if segment >= 0 else None
    if address in (None, ctypes.c_void_p(-1).value):
        say("shared memory refused:", os.strerror(ctypes.get_errno()))
        break
    ctypes.memset(address, 1, SIZE)
    libc.shmdt(ctypes.c_void_p(address))
    segments += 1
say("held:", 300 * segments, "MB in System V segments")
serve()
"""


def held_megabytes(programs, name):
    """What the program says it held, once it listens."""
    programs.console.wait_line(name, "serving")
    line = programs.console.wait_line(name, HELD)
    return int(line.split()[1])


def check_bounded(programs, name, source, port, bound_mb=LIMITS.data_bytes // 2**20):
    """The program starts and says how much it held: at most ``bound_mb``; or it was
    killed at its bound (the OOM killer) before it listened."""
    try:
        programs.start(name, source, port, limits=LIMITS)
    except StartError as error:
        assert (error.reason, error.returncode) == ("exited", -signal.SIGKILL), error
        return
    held = held_megabytes(programs, name)
    assert held <= bound_mb, f"{name} held {held} MB, over {bound_mb} MB"
    programs.stop(name)


def test_shared_mapping_is_bounded(free_port):
    with Programs() as programs:
        check_bounded(programs, "shared", SHARED_MAPPING, free_port)


def test_memfd_memory_is_bounded(free_port):
    with Programs() as programs:
        check_bounded(programs, "memfd", MEMFD, free_port)


def test_system_v_shared_memory_is_bounded(free_port):
    with Programs() as programs:
        check_bounded(programs, "sysv", SYSV_SHM, free_port)


# Rlimits are per process: five processes, each inside its own limits (a touched 400 MB
# mapping under --as=512MiB), hold 2 GB together; with the default 64 processes, 32 GiB,
# more than these machines have. Each child reports on a pipe; the parent says the sum.
FORKED_2GB = """
import mmap, time
size = 400 * 2**20
reports, report = os.pipe()
for _child in range(5):
    if os.fork() == 0:
        try:
            block = mmap.mmap(-1, size)
            for page in range(0, size, 4096):
                block[page] = 1
            os.write(report, b"%d\\n" % (size // 2**20))
        except OSError:
            os.write(report, b"0\\n")
        os.close(report)  # a child killed before it wrote closes its end too: EOF
        time.sleep(60)
        os._exit(0)
os.close(report)
got = b""
while got.count(b"\\n") < 5:
    chunk = os.read(reports, 100)
    if not chunk:
        break  # a child was killed before it reported
    got += chunk
say("held:", sum(int(n) for n in got.split()), "MB in five processes")
serve()
"""


def test_two_gigabytes_in_five_processes_are_bounded(free_port):
    with Programs() as programs:
        # Under 2 GB: each process may hold its own limits' worth, the sandbox not 2 GB.
        check_bounded(programs, "forked", FORKED_2GB, free_port, bound_mb=1999)
