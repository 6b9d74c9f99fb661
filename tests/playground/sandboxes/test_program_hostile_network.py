"""A hostile program cannot reach anything over the network (issue 13, point 5).

Real bwrap, real relay, real listening sockets: the playground's port (a server of this
test on 127.0.0.1), another program sandbox's public port and its socket path, an
abstract Unix socket of the host, and an address off the machine. Each target is shown
reachable from outside first, so "denied" inside means the sandbox, not a dead target.
"""

import contextlib
import secrets
import socket

from testkit.programs import Programs

ATTEMPTS = """
TARGETS = {targets!r}
for name, (kind, address) in TARGETS.items():
    try:
        with socket.socket(socket.AF_UNIX if kind == "unix" else socket.AF_INET) as client:
            client.settimeout(2)
            client.connect(address if kind == "unix" else tuple(address))
        say(name + ": CONNECTED")
    except OSError as error:
        say(name + ": denied:", error)
say("attempts done")
serve()
"""


@contextlib.contextmanager
def listening(family, address):
    server = socket.socket(family)
    try:
        server.bind(address)
        server.listen(8)
        server.setblocking(False)
        yield server
    finally:
        server.close()


def reachable(family, address):
    with socket.socket(family) as client:
        client.settimeout(2)
        client.connect(address)


def nobody_came(server):
    try:
        server.accept()[0].close()
    except BlockingIOError:
        return True
    return False


def test_cannot_connect_to_the_playground_or_another_sandbox(free_ports):
    playground_port, neighbour_port, port = free_ports(3)
    abstract = "\0playground-hostile-" + secrets.token_hex(4)
    with Programs() as programs, \
            listening(socket.AF_INET, ("127.0.0.1", playground_port)) as playground, \
            listening(socket.AF_UNIX, abstract) as host_abstract:
        programs.start("neighbour", "serve()", neighbour_port)
        neighbour_socket = programs.specs["neighbour"].socket_path
        reachable(socket.AF_INET, ("127.0.0.1", neighbour_port))
        reachable(socket.AF_UNIX, neighbour_socket)
        reachable(socket.AF_UNIX, abstract)
        host_abstract.accept()[0].close()
        targets = {
            "playground port": ("inet", ["127.0.0.1", playground_port]),
            "neighbour port": ("inet", ["127.0.0.1", neighbour_port]),
            "neighbour socket": ("unix", neighbour_socket),
            "host abstract socket": ("unix", abstract),
            "off the machine": ("inet", ["10.0.0.1", 80]),
        }

        programs.start("hostile", ATTEMPTS.format(targets=targets), port)

        programs.console.wait_line("hostile", "attempts done")
        console = programs.console.text("hostile")
        assert "CONNECTED" not in console, console
        for name in targets:
            assert f"{name}: denied:" in console, console
        # Its own network has only `lo`, and nothing of ours listens there.
        assert "playground port: denied: [Errno 111] Connection refused" in console
        assert "neighbour port: denied: [Errno 111] Connection refused" in console
        # The neighbour's run folder is not in its world at all.
        assert "neighbour socket: denied: [Errno 2] No such file or directory" in console
        assert "off the machine: denied: [Errno 101] Network is unreachable" in console
        assert nobody_came(playground) and nobody_came(host_abstract)
        programs.stop("hostile")
        # The neighbour was not disturbed: it still answers through its relay.
        reachable(socket.AF_INET, ("127.0.0.1", neighbour_port))
