"""Review 1g: an unexpected failure while a Start launches its server (not a refusal of
the server itself) gives the claim up and answers a sentence. The failure here is real:
the Python interpreter the playground runs its servers with is removed while it runs
(as when a virtualenv is rebuilt under a running playground), so Popen raises
FileNotFoundError. The old code answered a bare 500 and left the row "starting" under
its process's name, counted against the running limit, with no server coming."""

import os
import sys
from pathlib import Path

from testkit.playgrounds import Browser, Daphne, one_port_env

LAUNCH_FAILED = ("the playground could not start the server because of an error on its "
                 "side; the details are in its log")


def removable_python(folder: Path) -> Path:
    """A virtualenv's interpreter at a path of our own (the same venv: its pyvenv.cfg
    and site-packages), which can be deleted while a process started from it runs."""
    venv = Path(sys.prefix)
    (folder / "bin").mkdir(parents=True)
    (folder / "pyvenv.cfg").write_text((venv / "pyvenv.cfg").read_text())
    (folder / "lib").symlink_to(venv / "lib")
    python = folder / "bin" / "python"
    python.symlink_to(os.path.realpath(sys.executable))
    return python


def test_a_start_that_cannot_launch_releases_the_claim_and_says_why(tmp_path, free_ports,
                                                                     compiled_translations):
    sandbox_port, port = free_ports(2)
    env = one_port_env(tmp_path, sandbox_port, PLAYGROUND_MAX_RUNNING_SANDBOXES="1")
    python = removable_python(tmp_path / "venv")
    # `sh -c 'exec PYTHON "$@"'`: the playground runs as that interpreter (sys.executable),
    # which its Supervisor uses for every server it starts.
    site = Daphne("A", env, tmp_path, port, prefix=["sh", "-c", f'exec {python} "$@"'])
    try:
        browser = Browser()
        sandbox = browser.new_sandbox(site, "no python", sandbox_port)
        python.unlink()

        status, answer = browser.call(site, "POST", sandbox["links"]["start"])
        assert status == 500, answer
        assert answer["error"] == LAUNCH_FAILED, answer
        assert answer["sandbox"]["status"] == "stopped", answer  # the claim is given up
        row = browser.call(site, "GET", sandbox["links"]["self"])[1]
        assert row["status"] == "stopped" and row["message"] == LAUNCH_FAILED, row
        assert row["refused"] is True, row  # the card shows it as an error, not in black
        assert "Traceback" in site.output()  # the details are in its log

        browser.opener.addheaders = [("Accept-Language", "ja")]
        status, answer = browser.call(site, "POST", sandbox["links"]["start"])
        assert status == 500 and answer["error"] != LAUNCH_FAILED and answer["error"], answer

        # The interpreter is back: the same sandbox starts (the running limit of one was
        # not taken by the failed starts).
        python.symlink_to(os.path.realpath(sys.executable))
        status, started = browser.call(site, "POST", sandbox["links"]["start"])
        assert status == 200 and started["status"] == "running", started
        status, stopped = browser.call(site, "POST", sandbox["links"]["stop"])
        assert status == 200 and stopped["status"] == "stopped", stopped
    finally:
        site.close()
