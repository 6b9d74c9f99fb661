"""``python -m henaserver relay``: a subcommand beside the server's own command line,
which keeps meaning what it meant."""

from __future__ import annotations

import json
import socket

import pytest
from support import assert_one_line_failure, run


def test_the_servers_help_names_the_relay_and_the_relay_has_its_own():
    assert "python -m henaserver relay" in run("--help").stdout
    text = run("relay", "--help").stdout
    for option in ("--listen", "--to", "--events", "--events-fd", "--response-timeout"):
        assert option in text


def test_the_server_command_line_is_unchanged():
    # Still an error without --root: the relay did not make --root optional.
    assert run().returncode == 2


@pytest.mark.parametrize("listen", ["nocolon", "127.0.0.1:port", "127.0.0.1:70000"])
def test_a_malformed_address_is_one_clear_line(listen):
    assert_one_line_failure(run("relay", "--listen", listen, "--to", "127.0.0.1:1"),
                            repr(listen), "HOST:PORT")


def test_a_port_in_use_is_reported_as_henaserver_reports_it(tmp_path):
    taken = socket.create_server(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    events = tmp_path / "events.jsonl"
    try:
        result = run("relay", "--listen", f"127.0.0.1:{port}", "--to", "127.0.0.1:1",
                     "--events", str(events))
    finally:
        taken.close()
    assert_one_line_failure(result, "address already in use")
    (event,) = [json.loads(line) for line in events.read_text().splitlines()]
    assert event["type"] == "server.start_failed" and event["reason"] == "address_in_use"
