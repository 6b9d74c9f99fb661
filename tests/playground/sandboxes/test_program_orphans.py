"""Nothing of a program sandbox outlives a playground killed with ``kill -9`` (issue 13,
point 5): a real process running a real Supervisor starts a stubborn program (it ignores
SIGTERM and leaves a ``setsid`` grandchild), and is killed without a chance to stop it.
The kernel closes the launcher's stdin; the launcher ends, bwrap's pid 1 with it, and the
kernel kills the rest of the pid namespace. The relay's stdin closes the same way.
"""

import dataclasses
import json
import os
import signal
import subprocess
import sys

from testkit.programs import REPO, STUBBORN, Programs, processes_of
from testkit.waiting import wait_until

# The playground in small: a Supervisor that starts one program and waits forever.
PLAYGROUND = """
import json, sys, threading
from playground.sandboxes.programs import ProgramLimits, ProgramSpec
from playground.sandboxes.supervisor import Supervisor

given = json.loads(sys.argv[1])
spec = ProgramSpec(**{**given["spec"], "limits": ProgramLimits(**given["spec"]["limits"])})
child = Supervisor(cwd=given["cwd"]).start_program("orphan", spec)
print(json.dumps({"pid": child.pid}), flush=True)
threading.Event().wait()
"""


def test_nothing_of_the_sandbox_outlives_a_killed_playground(free_port):
    with Programs() as programs:
        spec = programs.spec("orphan", STUBBORN, free_port)
        given = {"spec": dataclasses.asdict(spec), "cwd": str(REPO)}
        playground = subprocess.Popen(
            [sys.executable, "-c", PLAYGROUND, json.dumps(given)], cwd=REPO,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = playground.stdout.readline()
            assert line, f"the playground did not start it: {playground.stderr.read()}"
            bwrap = json.loads(line)["pid"]
            # bwrap, its pid 1, the launcher, the program and the setsid grandchild
            wait_until(lambda: len(processes_of(spec.uid)) >= 5, 10,
                       "the stubborn program and its grandchild",
                       explain=lambda: str(processes_of(spec.uid)))
            assert bwrap in processes_of(spec.uid)

            os.kill(playground.pid, signal.SIGKILL)
            playground.wait(10)

            programs.assert_gone("orphan")  # no process of its uid, no relay on its port
        finally:
            if playground.poll() is None:
                playground.kill()
                playground.wait(10)
            playground.stdout.close()
            playground.stderr.close()
