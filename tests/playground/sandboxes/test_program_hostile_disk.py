"""A program cannot fill the disk (issue 13, point 5; review): RLIMIT_FSIZE bounds each
file and RLIMIT_NOFILE the open ones only, so a program could write file after file
(or millions of empty ones) until the disk, and the playground's database on it, is
full. The supervisor watches the sandbox's folder while it runs and ends the program
past ``ProgramLimits.folder_bytes`` / ``folder_entries``, saying so on the card.
Real bwrap; each program bounds itself too (it stops at 40 MB / 5,000 files: without
the watch the test fails instead of filling the disk).
"""

from dataclasses import replace
from pathlib import Path

from testkit.programs import SMALL_LIMITS, Programs

from playground.sandboxes.exits import FOLDER_FULL

LIMITS = replace(SMALL_LIMITS, cpu_seconds=30, folder_bytes=8 * 2**20, folder_entries=500)

MANY_FILES = """
import threading, time
threading.Thread(target=serve, daemon=True).start()
for n in range(40):  # 40 files of 1 MiB (the file limit): 5 times the folder's bound
    with open(f"f{n}.bin", "wb") as f:
        f.write(os.urandom(2**20))
    time.sleep(0.05)
say("wrote 40 MB NO LIMIT")
time.sleep(60)
"""

EMPTY_FILES = """
import threading, time
threading.Thread(target=serve, daemon=True).start()
os.mkdir("d")
for n in range(5000):
    open(f"d/{n}", "w").close()
    if n % 100 == 0:
        time.sleep(0.02)
say("made 5000 files NO LIMIT")
time.sleep(60)
"""


def size_of(folder: str) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def test_a_program_cannot_fill_the_disk(free_port):
    with Programs() as programs:
        programs.start("filler", MANY_FILES, free_port, limits=LIMITS)

        info = programs.console.wait_exit("filler", timeout=30)
        assert not info.requested
        assert info.stop_reason == FOLDER_FULL, info
        assert "NO LIMIT" not in programs.console.text("filler")
        assert "more than its folder may hold" in info.describe(), info.describe()
        assert size_of(programs.specs["filler"].files) < 40 * 2**20
        programs.assert_gone("filler")


def test_a_program_cannot_make_files_without_end(free_port):
    with Programs() as programs:
        programs.start("empty", EMPTY_FILES, free_port, limits=LIMITS)

        info = programs.console.wait_exit("empty", timeout=30)
        assert info.stop_reason == FOLDER_FULL, info
        assert "NO LIMIT" not in programs.console.text("empty")
        programs.assert_gone("empty")
