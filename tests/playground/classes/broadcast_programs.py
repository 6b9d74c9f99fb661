"""Students' own programs for the broadcast's tests (test_broadcast_program.py,
test_broadcast_hostile.py): a tutorial-style server whose answer each test writes, run
in a student's program sandbox under the real bubblewrap (the tests' ``isolated``
fixture)."""

from __future__ import annotations

import textwrap
from typing import Any

from testkit.boards import logged_in, student
from testkit.program_api import api_create, api_post

GET = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"

SERVER = textwrap.dedent('''\
    import socket, sys, time
    s = socket.socket()
    s.bind(("", int(sys.argv[1])))
    s.listen()
    while True:
        c, _ = s.accept()
        try:
    ANSWER
        except OSError:  # the broadcast gave up on this one: on to the next
            pass
        c.close()
    ''')


def server(answer: str) -> str:
    """The program's source: ``answer`` (Python lines; ``c`` is the accepted connection)
    run for each connection."""
    return SERVER.replace("ANSWER\n", textwrap.indent(answer + "\n", " " * 8))


def running_program(klass: Any, username: str, port: int, source: str) -> tuple[Any, dict]:
    """A student of ``klass`` with a program sandbox on ``port`` running ``source``:
    their logged-in client and the sandbox's JSON."""
    client = logged_in(student(klass, username))
    sandbox = api_create(client, port, source=source)
    started = api_post(client, sandbox["links"]["start"]).json()
    assert started.get("status") == "running", started
    return client, sandbox
