"""A hostile program cannot outlive its Stop, nor speak for its launcher (issue 13,
point 5). Real bwrap, real launcher, real relay; what is left is read from /proc.
"""

from testkit.programs import STUBBORN, Programs, processes_of

# The launcher holds the status pipe's write end (the supervisor reads the launcher's
# facts from it). The program shares its uid and pid namespace: pidfd_getfd (Linux
# 5.6) copies a descriptor out of another process when ptrace would be allowed.
TAKE_STATUS_PIPE = """
import ctypes, fcntl, json, stat
libc = ctypes.CDLL(None, use_errno=True)
SYS_pidfd_open, SYS_pidfd_getfd = 434, 438
launcher = os.getppid()
pidfd = libc.syscall(SYS_pidfd_open, launcher, 0)
say("pidfd of the launcher:", pidfd)
taken = []
for fd in range(64):
    mine = libc.syscall(SYS_pidfd_getfd, pidfd, fd, 0)
    if mine < 0:
        error = ctypes.get_errno()
        if error != 9:  # EBADF: the launcher has no such fd
            say("fd", fd, "denied:", os.strerror(error))
        continue
    writable = fcntl.fcntl(mine, fcntl.F_GETFL) & os.O_ACCMODE != os.O_RDONLY
    console = os.fstat(mine).st_ino in (os.fstat(1).st_ino, os.fstat(2).st_ino)
    if stat.S_ISFIFO(os.fstat(mine).st_mode) and writable and not console:
        for forged in ({"type": "program.exited", "returncode": 99, "forged": True},
                       {"type": "server.stopping", "reason": "forged", "forged": True},
                       {"type": "exchange", "forged": True}):
            os.write(mine, json.dumps(forged).encode() + b"\\n")
        taken.append(fd)
say("took the launcher's pipes:", taken)
try:
    with open(f"/proc/{launcher}/maps") as maps, open(f"/proc/{launcher}/mem", "rb") as mem:
        start = int(maps.readline().split("-")[0], 16)
        mem.seek(start)
        say("launcher's memory: READ", mem.read(4))
except OSError as error:
    say("launcher's memory: denied:", error)
serve()
"""


def test_stubborn_program_and_its_setsid_grandchild_end_at_stop(free_port):
    with Programs() as programs:
        programs.start("stubborn", STUBBORN, free_port)
        line = programs.console.wait_line("stubborn", "grandchild")
        programs.console.wait_line("stubborn", "serving")
        grandchild_pid_inside = int(line.split()[1])
        uid = programs.specs["stubborn"].uid
        # bwrap, its pid 1, the launcher, the program and the grandchild
        assert len(processes_of(uid)) >= 5, processes_of(uid)
        assert grandchild_pid_inside != 1  # a real, separate process in its namespace

        info = programs.stop("stubborn")  # stdin EOF, as the playground's Stop

        assert info is not None and info.requested, info
        assert not processes_of(uid)


def test_cannot_take_the_launchers_status_pipe(free_port):
    with Programs() as programs:
        programs.start("thief", TAKE_STATUS_PIPE, free_port)

        programs.console.wait_line("thief", "serving")
        console = programs.console.text("thief")
        programs.stop("thief")
        forged = [event for _key, event in programs.console.events if "forged" in event]
        assert forged == [], forged
        assert "took the launcher's pipes: []" in console, console
        assert "launcher's memory: denied:" in console, console


KILL_LAUNCHER = """
import signal, threading, time
threading.Thread(target=serve, daemon=True).start()
time.sleep(0.2)
say("sending {signal_name} to the launcher")
os.kill(os.getppid(), signal.{signal_name})
while True:
    time.sleep(1)
"""


def test_killing_its_launcher_ends_its_sandbox(free_port):
    with Programs() as programs:
        programs.start("killer", KILL_LAUNCHER.format(signal_name="SIGKILL"), free_port)

        info = programs.console.wait_exit("killer")
        assert not info.requested, info  # it ended by itself: a crash, on the card
        assert info.describe() == "exit code 137", info  # bwrap's: 128 + SIGKILL
        assert "sending SIGKILL to the launcher" in info.stderr_tail  # the console
        programs.assert_gone("killer")


def test_freezing_its_launcher_does_not_survive_stop(free_port):
    with Programs() as programs:
        programs.start("freezer", KILL_LAUNCHER.format(signal_name="SIGSTOP"), free_port)
        programs.console.wait_line("freezer", "to the launcher")

        info = programs.stop("freezer")  # the launcher cannot read its stdin EOF

        assert info is not None and info.requested, info
