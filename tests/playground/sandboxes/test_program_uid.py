"""A program sandbox's uid must be nobody else's (review): a start kills every process
of the uid (programs.prepare, as root) and hands it the sandbox's folder, so a uid that
is a real user's, a group's, or in a user's subordinate ids (rootless containers:
/etc/subuid) would have root kill that user's processes and run the program as them.
"""

import dataclasses
import subprocess

import pytest
from testkit.programs import Programs

from playground.sandboxes.exits import StartError

NOBODY = 65534  # a user of every Linux machine, with its processes


def test_a_uid_that_is_someone_elses_is_refused_and_left_alone(free_port):
    with Programs() as programs:
        spec = programs.spec("taken", "serve()", free_port)
        spec = dataclasses.replace(spec, uid=NOBODY)
        theirs = subprocess.Popen(["sleep", "60"], user=NOBODY, group=NOBODY)
        try:
            with pytest.raises(StartError) as refused:
                programs.supervisor.start_program("taken", spec)
            assert "65534 is also the user nobody" in str(refused.value)
            assert theirs.poll() is None  # nobody's own process was not killed
        finally:
            theirs.kill()
            theirs.wait()
