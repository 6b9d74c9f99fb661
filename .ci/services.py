"""Start or stop the services CI's test runs share (used by .ci/run).

    python .ci/services.py start DIR   # prints `export NAME=URL` lines for the shell
    python .ci/services.py stop DIR

They are started the way tests start their own (tests/testkit/services.py), so there is
one way to run each; the contexts are entered here and left by `stop`, in another
process, through the pid files the servers leave in DIR.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from testkit import ports, services  # noqa: E402


def start(folder: Path) -> None:
    redis_port, postgres_port = ports.free_ports(2)
    # Entered and never left (kept referenced until os._exit, or collecting them would
    # run their clean-up): `stop` ends them. A failure ends CI here, with the reason.
    contexts = [services.redis_server(folder, redis_port),
                services.postgres_cluster(postgres_port)]
    redis, postgres = (context.__enter__() for context in contexts)
    print(f"export PLAYGROUND_TEST_REDIS_URL={redis}")
    print(f"export PLAYGROUND_TEST_POSTGRES_URL={postgres}")
    (folder / "redis.port").write_text(str(redis_port))
    (folder / "postgres.port").write_text(str(postgres_port))
    sys.stdout.flush()
    os._exit(0)  # leave without running the contexts' clean-up: the servers stay up


def stop(folder: Path) -> None:
    port = (folder / "redis.port").read_text() if (folder / "redis.port").exists() else ""
    if port:
        subprocess.run(["redis-cli", "-p", port, "shutdown", "nosave"], capture_output=True)
    port = (folder / "postgres.port").read_text() if (folder / "postgres.port").exists() else ""
    pid = services.postgres_pid(int(port)) if port else None
    if pid is not None:
        os.kill(pid, signal.SIGQUIT)  # immediate shutdown; its /tmp folder goes with the VM


if __name__ == "__main__":
    action, where = sys.argv[1], Path(sys.argv[2])
    start(where) if action == "start" else stop(where)
