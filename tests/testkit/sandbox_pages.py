"""Sandboxes for the browser tests: made from a page, as the home page's buttons make
them, and sent raw bytes, as a learner's client sends them. The fixture
``start_in_page`` in tests/e2e/conftest.py hands ``start_in_page`` out; a module-scoped
fixture imports it."""

from __future__ import annotations

import socket
from typing import Any

from .waiting import wait_until

# Without a port: the playground's suggestion (the lowest free one), and on 409 (taken
# between the suggestion and the start, by another test run on this machine reaching for
# the same lowest port) that sandbox is deleted and the next suggestion tried.
_START = """async ([name, port, mode]) => {
  for (let attempt = 0; attempt < 5; attempt++) {
    const chosen = port ?? (await PG.api("GET", "/api/sandboxes/?suggest=1")).suggested_port;
    const sb = await PG.api("POST", "/api/sandboxes/",
                            mode ? {name, port: chosen, mode} : {name, port: chosen});
    await PG.api("POST", sb.links.starter, {});
    try {
      return await PG.api("POST", sb.links.start);
    } catch (err) {
      if (port !== null || err.status !== 409) throw err;
      await PG.api("DELETE", sb.links.self);
    }
  }
  throw new Error("no suggested port stayed free");
}"""


def start_in_page(page: Any, name: str, port: int | str | None = None,
                  mode: str | None = None) -> dict:
    """From an open playground page, create a sandbox (in henaserver ``mode``, if given)
    on ``port``, or on the port the playground suggests (another one if that was taken
    meanwhile), give it the starter site and start it, with the page's own PG.api.
    Returns the started sandbox's JSON."""
    return page.evaluate(_START, [name, None if port is None else int(port), mode])


def last_stored_seq(page: Any, sandbox: dict, timeout: float = 10) -> int:
    """The seq of the sandbox's newest stored exchange (of its current run), once there
    is one, asked from ``page`` as its own script asks."""
    def seq() -> int | None:
        items = page.evaluate("async (u) => (await (await fetch(u)).json()).exchanges",
                              sandbox["links"]["exchanges"])
        return items[-1]["seq"] if items else None
    return wait_until(seq, timeout, f"an exchange of {sandbox['name']} to be stored")


def exchange(port: int, request: bytes, timeout: float = 10) -> bytes:
    """Send ``request`` (it should say ``Connection: close``) to 127.0.0.1:``port`` on a
    connection of its own and return all that came back until the server closed."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        while chunk := sock.recv(65536):
            received += chunk
    return received
