"""A program cannot outlive its sandbox by taking over bwrap's own pid 1 (review).

Inside the sandbox, pid 1 is bwrap's init: the program's uid, dumpable, so the program
may write its memory (/proc/1/mem). The program below rewrites the code pid 1 returns
to from its wait: ``prctl(PR_SET_PDEATHSIG, 0)`` (bwrap's --die-with-parent undone),
then ``pause()`` forever; then it leaves a setsid child that ignores SIGTERM. Killing
bwrap outside no longer ends the namespace (its pid 1 lives on): before the fix, both
stayed after Stop, forever. The supervisor now ends every process of the sandbox's
control group once bwrap has gone.
"""

import platform

import pytest
from testkit.programs import Programs, processes_of

HIJACK_INIT = """
import signal, time
pc = int(open("/proc/1/syscall").read().split()[-1], 16)
# mov edi,1; xor esi,esi; mov eax,157 (prctl PR_SET_PDEATHSIG 0); syscall;
# loop: mov eax,34 (pause); syscall; jmp loop
code = bytes.fromhex("bf01000000" "31f6" "b89d000000" "0f05" "b822000000" "0f05" "ebf7")
with open("/proc/1/mem", "r+b", buffering=0) as mem:
    mem.seek(pc)
    mem.write(code)
if os.fork() == 0:  # pid 1 leaves its wait when an orphan of its ends: make one
    if os.fork() == 0:
        time.sleep(0.2)
        os._exit(0)
    os._exit(0)
os.wait()
time.sleep(0.5)
say("pid 1 now in", open("/proc/1/wchan").read())
if os.fork() == 0:
    os.setsid()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(1)
serve()
"""


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the program is x86-64 code")
def test_a_program_that_takes_over_pid_1_is_gone_after_stop(free_port):
    with Programs() as programs:
        uid = programs.spec("init", HIJACK_INIT, free_port).uid
        programs.supervisor.start_program("init", programs.specs["init"])
        programs.console.wait_line("init", "serving")
        assert "pause" in programs.console.text("init")  # the takeover worked
        assert len(processes_of(uid)) >= 3
        programs.stop("init")  # asserts nothing of the uid is left
