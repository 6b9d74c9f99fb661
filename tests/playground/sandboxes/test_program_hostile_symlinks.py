"""A running program cannot make the playground read or write outside its folder for it
(issue 13, point 5).

While a program runs, its folder changes under the playground's feet: the program owns
it. The files API works there as the playground's user (root), so a name it checked a
moment ago may be a symlink to a host path by the time it opens it. The program below
learns its folder's host path from /proc/1/cmdline (bwrap's argv) and swaps a name
between a file and a symlink to the data folder's secret key as fast as it can, a
folder and a symlink to the data folder, and a file and a FIFO; the test drives the files
API's own calls (``SiteFiles``, as ``files/api.py`` uses it: list, read, write,
delete) against it.
"""

import threading

from testkit.programs import Programs

from playground.files.safepaths import UnsafePath
from playground.files.sitefiles import Limits, SiteFiles

SWAPPER = """
import ctypes, threading
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE, SYS_renameat2 = -100, 2, 316
argv = open("/proc/1/cmdline", "rb").read().split(b"\\0")
host_files = argv[argv.index(b"/sandbox/files") - 1].decode()
data = os.path.dirname(os.path.dirname(host_files))
with open("page.txt", "w") as f:
    f.write("harmless")
os.symlink(data + "/secret_key", "page.lnk")
os.mkdir("sub")
with open("sub/victim", "w") as f:  # so that "sub/victim" exists when checked
    f.write("the program's own")
os.symlink(data, "sub.lnk")
with open("pipe.txt", "w") as f:
    f.write("harmless")
os.mkfifo("pipe.fifo")  # opening a FIFO to read waits for a writer: for ever


def exchange(a, b):  # two names swap what they name, atomically
    libc.syscall(SYS_renameat2, AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), RENAME_EXCHANGE)


def swap_forever():
    while True:
        exchange("page.txt", "page.lnk")
        exchange("sub", "sub.lnk")
        exchange("pipe.txt", "pipe.fifo")


threading.Thread(target=swap_forever, daemon=True).start()
say("swapping under", host_files)
serve()
"""

ROUNDS = 1000
# Seconds the rounds get: about 2 s here; a read stuck in a FIFO's open() never ends.
ROUNDS_BOUND = 120


def rounds(files, secret, found):
    """What the files API does, ROUNDS times: ``found`` counts what went outside."""
    for _round in range(ROUNDS):
        for name in ("page.txt", "pipe.txt"):  # GET .../files/NAME
            try:
                with files.open(name) as f:
                    found["secret read"] += secret in f.read()
            except (OSError, UnsafePath):
                pass  # refused (a 400), or gone (a 404): fine
        try:  # PUT .../files/sub/x.txt
            files.write_many([("sub/x.txt", [b"from the playground"])])
        except (OSError, UnsafePath):
            pass
        try:  # DELETE .../files/sub/victim
            files.delete("sub/victim")
        except (OSError, UnsafePath):
            pass
        # GET .../files/: nothing of the data folder (secret_key, sandboxes) is listed
        found["data listed"] += any(entry["path"].startswith("sub/s")
                                    for entry in files.entries())
    found["done"] = True


def test_the_files_api_is_not_fooled_by_a_running_program(free_port):
    with Programs() as programs:
        programs.start("swapper", SWAPPER, free_port)
        programs.console.wait_line("swapper", "swapping under")
        files = SiteFiles(programs.specs["swapper"].files,
                          Limits(max_file_bytes=2**20, max_sandbox_bytes=2**24,
                                 max_files=1000))
        victim = programs.data / "victim"
        victim.write_text("the playground's")
        found = {"secret read": 0, "data listed": 0, "done": False}
        # In a thread, so that a request stuck for ever (a FIFO swapped in for a file
        # it opens) fails this test instead of hanging it.
        worker = threading.Thread(target=rounds, daemon=True,
                                  args=(files, programs.secret.encode(), found))
        worker.start()
        worker.join(ROUNDS_BOUND)
        found["data written"] = (programs.data / "x.txt").exists()
        found["data deleted"] = not victim.exists()
        programs.stop("swapper")
        assert found == {"secret read": 0, "data listed": 0, "done": True,
                         "data written": False, "data deleted": False}, found
        assert (programs.data / "secret_key").read_text() == programs.secret
