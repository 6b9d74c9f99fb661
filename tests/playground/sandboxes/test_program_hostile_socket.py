"""A hostile program cannot turn its relay against the host (issue 13, point 5).

The relay runs outside, as the playground's user, and connects to the launcher's Unix
socket in the sandbox's run folder once per client. A program that could change what
that path names (replace the socket by a symlink to a host socket whose path it learns
from /proc/1/cmdline, say) would have every client of its public port, the learner
included, forwarded by the playground's user to that socket: a database's, a
container runtime's, another sandbox's. The supervisor therefore binds the socket
itself and passes the listening descriptor in: the run folder is not in the
sandbox's world. Here a real Unix server of the test stands for the host's socket.
"""

import socket

from testkit.programs import Programs

SWAP = """
import threading, time
threading.Thread(target=serve, daemon=True).start()
path = "/sandbox/run/program.sock"  # where the launcher's socket was once bound
for _ in range(100):
    if os.path.lexists(path):
        break
    time.sleep(0.01)
try:
    os.unlink(path)
    os.symlink({victim!r}, path)
    say("socket swapped for", {victim!r})
except OSError as error:
    say("swap denied:", error)
say("swap done")
while True:
    time.sleep(1)
"""


def test_cannot_point_its_relay_at_a_host_socket(free_port):
    with Programs() as programs:
        victim_path = str(programs.data / "victim.sock")
        with socket.socket(socket.AF_UNIX) as victim:
            victim.bind(victim_path)
            victim.listen(8)
            victim.settimeout(1)
            programs.start("swapper", SWAP.format(victim=victim_path), free_port)
            programs.console.wait_line("swapper", "swap done")
            assert "swap denied:" in programs.console.text("swapper")

            # A client of the sandbox's public port, as the learner's browser would be.
            with socket.create_connection(("127.0.0.1", free_port), timeout=5) as client:
                client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                client.settimeout(5)
                try:
                    client.recv(100)
                except OSError:
                    pass
            try:
                reached, _ = victim.accept()
            except TimeoutError:
                reached = None
            if reached is not None:
                got = reached.recv(100)
                reached.close()
                raise AssertionError(f"the relay connected to the host socket: {got!r}")
        programs.stop("swapper")
