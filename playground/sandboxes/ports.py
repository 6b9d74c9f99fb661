"""Which ports a sandbox may use. No Django here: callers pass the settings in.

A bind() probe can only *hint* that a port is free (another program may take it a moment
later); the real answer is the child's own bind, reported by the supervisor. The probe
mirrors what a server does (SO_REUSEADDR, so ports in TIME_WAIT count as free) and never
sets SO_REUSEPORT, with which Linux lets two servers share a port silently.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterable

from ..refusals import Refusal, gettext_noop


class PortError(Refusal, ValueError):
    """The port cannot be used; the message says why, for the learner."""


def check_in_range(port: object, port_range: tuple[int, int], own_ports: Iterable[int]) -> int:
    """The port as an int, or PortError if it is not a number, out of range or ours."""
    first, last = port_range
    if isinstance(port, bool) or not isinstance(port, (int, str)):
        raise PortError(gettext_noop("the port must be a whole number"))
    try:
        number = int(port)
    except ValueError:
        raise PortError(gettext_noop("the port must be a whole number, like 8080")) from None
    if not first <= number <= last:
        raise PortError(
            gettext_noop("port %(port)s is outside the allowed range %(first)s-%(last)s"),
            port=number, first=first, last=last)
    if number in set(own_ports):
        raise PortError(
            gettext_noop("port %(port)s is the playground's own port; choose another one"),
            port=number)
    return number


def is_free(host: str, port: int) -> bool:
    """True if nothing listens on host:port right now (a hint, see module docstring)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def suggest(host: str, port_range: tuple[int, int], taken: Iterable[int]) -> int | None:
    """The lowest port in range that no sandbox holds and nothing listens on, or None.

    The first port of the range is tried last: it is the one most likely to be the
    playground's own (runserver's 8000) or some other tool's default.
    """
    first, last = port_range
    taken = set(taken)
    candidates = list(range(first + 1, last + 1)) + [first]
    for port in candidates:
        if port not in taken and is_free(host, port):
            return port
    return None
