"""A running program cannot make the playground read or write outside its folder for it
(issue 13, point 5).

While a program runs, its folder changes under the playground's feet: the program owns
it. The files API works there as the playground's user (root), so a name it checked a
moment ago may be a symlink to a host path by the time it opens it. The program below
learns its folder's host path from /proc/1/cmdline (bwrap's argv) and swaps a name
between a file and a symlink to the data folder's secret key as fast as it can, and a
folder between a folder and a symlink to the data folder; the test drives the files
API's own calls (``SiteFiles``, as ``files/api.py`` uses it: list, read, write,
delete) against it.
"""

from pathlib import Path

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


def exchange(a, b):  # two names swap what they name, atomically
    libc.syscall(SYS_renameat2, AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), RENAME_EXCHANGE)


def swap_forever():
    while True:
        exchange("page.txt", "page.lnk")
        exchange("sub", "sub.lnk")


threading.Thread(target=swap_forever, daemon=True).start()
say("swapping under", host_files)
serve()
"""

ROUNDS = 1000


def test_the_files_api_is_not_fooled_by_a_running_program(free_port):
    with Programs() as programs:
        programs.start("swapper", SWAPPER, free_port)
        programs.console.wait_line("swapper", "swapping under")
        files = SiteFiles(programs.specs["swapper"].files,
                          Limits(max_file_bytes=2**20, max_sandbox_bytes=2**24,
                                 max_files=1000))
        secret = programs.secret.encode()
        victim = programs.data / "victim"
        victim.write_text("the playground's")
        leaked = listed_outside = 0
        for _round in range(ROUNDS):
            try:  # GET .../files/page.txt
                with files.open("page.txt") as f:
                    leaked += secret in f.read()
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
            # GET .../files/: nothing of the data folder is listed
            listed_outside += any(entry["path"].startswith("sub/s")  # secret_key, sandbox*
                                  for entry in files.entries())
        written_outside = (programs.data / "x.txt").exists()
        deleted_outside = not victim.exists()
        programs.stop("swapper")
        assert (leaked, written_outside, deleted_outside, listed_outside) == (
            0, False, False, 0), (
            f"for the program, the playground read the secret key {leaked} times, wrote "
            f"in the data folder: {written_outside}, deleted there: {deleted_outside}, "
            f"listed it {listed_outside} times")
        assert Path(programs.data / "secret_key").read_bytes() == secret
