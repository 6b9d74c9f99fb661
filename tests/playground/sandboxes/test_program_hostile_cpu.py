"""A program cannot take every core (review). RLIMIT_CPU is a budget per process: a
program whose busy children are each killed at their limit can start new ones for as
long as it runs, on all cores. The sandbox's control group caps its rate
(``ProgramLimits.cpu_percent`` of one core, the cpu controller's quota). Four busy
children for 3 s of wall time would use up to 6 s of CPU on these two cores (seen:
1.1 s for 2 s of wall time on the loaded shared machine); at 10 % of a core the group
gets 0.3 s. The bound asserted (0.8 s) is generous for the cap.
"""

import dataclasses
import os

from testkit.programs import SMALL_LIMITS, Programs
from testkit.services import unavailable

from playground.sandboxes import cgroups

LIMITS = dataclasses.replace(SMALL_LIMITS, cpu_seconds=30, cpu_percent=10)

BUSY_CHILDREN = """
import time
children = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        end = time.monotonic() + 3
        while time.monotonic() < end:
            pass
        os.write(1, f"child cpu {time.process_time()}\\n".encode())  # one write each
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
say("children done")
serve()
"""


def test_the_sandbox_cannot_take_every_core(free_port):
    probe = cgroups.Bound.make("probe-cpu", 2**24, 4, cpu_percent=10)
    if probe is None or not any(f.startswith(f"{cgroups.ROOT}/cpu/")
                                or os.path.exists(f"{f}/cpu.max") for f in probe.folders):
        unavailable("a cgroup cpu controller", "a program's CPU rate cannot be capped")
    probe.remove()
    with Programs() as programs:
        programs.start("busy", BUSY_CHILDREN, free_port, limits=LIMITS)

        programs.console.wait_line("busy", "children done", timeout=30)
        used = [float(line.split()[-1]) for line in programs.console.text("busy").splitlines()
                if line.startswith("child cpu")]
        assert len(used) == 4, programs.console.text("busy")
        assert sum(used) < 0.8, used
        programs.stop("busy")
