"""A hostile program can write only in its own folder and read none of ours (issue 13,
point 5): real bwrap, real paths of a data folder laid out like the playground's.

Each test also proves the program was running and able (it writes in its own folder,
it prints what it saw), so a denial is the sandbox's, not a program that did nothing.
"""

import dataclasses
import os
from pathlib import Path

from testkit.programs import SMALL_LIMITS, Programs

from playground.sandboxes.programs import environment

WRITES = """
for path in {targets!r}:
    try:
        with open(path, "a") as f:
            f.write("hostile")
        say(path, "-> WROTE")
    except OSError as error:
        say(path, "-> denied:", error)
say("writes done")
serve()
"""

LOOKS = """
for name, path in (("secret", {secret!r}), ("database", {database!r})):
    try:
        with open(path) as f:
            say(name + ":", f.read())
    except OSError as error:
        say(name + ": denied:", error)
found = [os.path.join(folder, name) for folder, _dirs, names in os.walk("/")
         if not folder.startswith(("/proc", "/usr", "/sys")) for name in names
         if name == "secret_key"]
say("secret_key files seen:", found)
say("environment:", sorted(os.environ))
say("ids:", os.getuid(), os.geteuid(), os.getgid(), os.getgroups())
for line in open("/proc/self/status"):
    if line.startswith(("CapEff:", "NoNewPrivs:")):
        say(line.strip())
for pid in sorted(name for name in os.listdir("/proc") if name.isdigit()):
    with open(f"/proc/{{pid}}/cmdline", "rb") as f:
        say("process:", f.read().replace(b"\\0", b" ").decode())
say("looks done")
serve()
"""


def test_cannot_write_outside_its_folder(free_ports):
    port, other_port = free_ports(2)
    with Programs() as programs:
        other = programs.spec("other", "serve()", other_port)
        other_page = Path(other.files) / "index.html"
        other_page.write_text("<h1>theirs</h1>")
        spec = programs.spec("hostile", "", port)
        outside = {
            "/etc/hostile": None, "/usr/hostile": None, "/hostile": None,
            "/tmp/hostile": None, "/dev/hostile": None, "/dev/shm/hostile": None,
            "/sandbox/launcher.py": None,
            str(programs.data / "hostile"): programs.data / "hostile",
            str(programs.data / "secret_key"): programs.data / "secret_key",
            str(other_page): other_page,
            str(Path(other.run_dir) / "hostile"): Path(other.run_dir) / "hostile",
        }
        before = {path: (host.read_bytes() if host and host.exists() else None)
                  for path, host in outside.items()}
        (Path(spec.files) / "main.py").write_text(
            (Path(spec.files) / "main.py").read_text()
            + WRITES.format(targets=[*outside, "inside.txt"]))

        programs.supervisor.start_program("hostile", spec)

        programs.console.wait_line("hostile", "writes done")
        console = programs.console.text("hostile")
        assert "inside.txt -> WROTE" in console, console  # it could write: in its folder
        assert (Path(spec.files) / "inside.txt").read_text() == "hostile"
        for path, host in outside.items():
            assert f"{path} -> denied:" in console, console
            if host is not None:  # and on our side nothing changed
                now = host.read_bytes() if host.exists() else None
                assert now == before[path], path
        for path in ("/etc/hostile", "/usr/hostile", "/hostile"):
            assert f"{path} -> denied: [Errno 30] Read-only file system" in console
            assert not os.path.exists(path)
        programs.stop("hostile")


def test_cannot_read_our_secrets_or_see_our_processes(free_port, monkeypatch):
    monkeypatch.setenv("DJANGO_SECRET_KEY", "in-the-playgrounds-environment")
    with Programs() as programs:
        key = programs.data / "secret_key"  # 0600, root's: as the real one
        database = programs.data / "db.sqlite3"  # 0644: only the mounts keep it out
        database.write_text("rows of every learner")
        database.chmod(0o644)
        source = LOOKS.format(secret=str(key), database=str(database))
        # Its walk of the whole tree takes CPU: the 1 s of the small limits killed it
        # (SIGXCPU) once in a loaded CI run. CPU is not what this test is about.
        spec = programs.spec("hostile", source, free_port,
                             limits=dataclasses.replace(SMALL_LIMITS, cpu_seconds=20))

        programs.supervisor.start_program("hostile", spec)

        programs.console.wait_line("hostile", "looks done")
        console = programs.console.text("hostile")
        assert programs.secret not in console
        assert "in-the-playgrounds-environment" not in console
        assert "rows of every learner" not in console
        assert "secret: denied: [Errno 2] No such file or directory" in console
        assert "database: denied: [Errno 2] No such file or directory" in console
        assert "secret_key files seen: []" in console
        # Exactly the program's environment (bwrap adds PWD), nothing of ours.
        expected = sorted([*environment(spec, port=spec.port), "PWD"])
        assert f"environment: {expected}" in console, console
        uid = spec.uid
        assert f"ids: {uid} {uid} {uid} []" in console, console
        assert "CapEff:\t0000000000000000" in console
        assert "NoNewPrivs:\t1" in console  # no setuid program can raise it
        # Its own pid namespace: bwrap's init, the launcher, the program; none of ours.
        processes = [line for line in console.splitlines() if line.startswith("process:")]
        assert len(processes) <= 4, processes
        assert not any("pytest" in line or "relay" in line for line in processes), processes
        programs.stop("hostile")
