"""A running program cannot make the playground read or write outside its folder for it
(issue 13, point 5).

While a program runs, its folder changes under the playground's feet: the program owns
it. The files API works there as the playground's user (root), so a name it checked a
moment ago may be a symlink to a host path by the time it opens it. The program below
learns its folder's host path from /proc/1/cmdline (bwrap's argv) and swaps a name
between a file and a symlink to the data folder's secret key as fast as it can, and a
folder between a folder and a symlink to the data folder; the test drives the files
API's own calls (``SiteFiles`` as ``files/api.py`` uses it) against it.
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

ROUNDS = 3000


def test_the_files_api_is_not_fooled_by_a_running_program(free_port):
    with Programs() as programs:
        programs.start("swapper", SWAPPER, free_port)
        programs.console.wait_line("swapper", "swapping under")
        files = SiteFiles(programs.specs["swapper"].files,
                          Limits(max_file_bytes=2**20, max_sandbox_bytes=2**24,
                                 max_files=1000))
        secret = programs.secret.encode()
        leaked = written_outside = 0
        for _round in range(ROUNDS):
            try:  # what GET .../files/page.txt does (files/api.py)
                with open(files.file_path("page.txt"), "rb") as f:
                    leaked += secret in f.read()
            except (OSError, UnsafePath):
                pass  # refused (a 400), or gone (a 404): fine
            try:  # what PUT .../files/sub/x.txt does
                files.write_many([("sub/x.txt", [b"from the playground"])])
            except (OSError, UnsafePath):
                pass  # refused: fine
        written_outside = (programs.data / "x.txt").exists()
        programs.stop("swapper")
        assert (leaked, written_outside) == (0, False), (
            f"the secret key was read for the program {leaked} times; the playground "
            f"wrote in the data folder for it: {written_outside}")
        assert Path(programs.data / "secret_key").read_bytes() == secret
