"""The command line: --help, the port-0 banner, clean shutdown, and one-line failures."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from rawhttp import get
from support import INDEX_CSS, ServerProcess, assert_one_line_failure, run

from henaserver.__main__ import start_failed

OPTIONS = ["--root", "--host", "--port", "--events", "--events-fd", "--exit-on-stdin-eof",
           "--quiet", "--body-cap", "--max-connections", "--header-timeout", "--min-rate",
           "--rate-grace",
           "--idle-timeout", "--limit-memory", "--limit-files", "--limit-cpu", "--mode",
           "--fixed-response", "--rules"]


def test_help_documents_every_option() -> None:
    result = run("--help")
    assert result.returncode == 0
    for option in OPTIONS:
        assert option in result.stdout, option


def test_port_zero_banner_names_the_real_port(server: ServerProcess) -> None:
    assert server.host == "127.0.0.1"
    assert server.port not in (0, 8080)
    assert f"http://127.0.0.1:{server.port}/" in server.banner
    with server.raw() as conn:
        assert conn.request(get("/index.css")).body == INDEX_CSS


def test_taken_port(docroot: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("--root", str(docroot), "--port", str(port))
    assert_one_line_failure(result, str(port))


def test_missing_root(tmp_path: Path) -> None:
    missing = tmp_path / "does-not-exist"
    result = run("--root", str(missing), "--port", "0")
    assert_one_line_failure(result, str(missing))


def test_root_is_a_file(docroot: Path) -> None:
    result = run("--root", str(docroot / "index.css"), "--port", "0")
    assert_one_line_failure(result)


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_port_out_of_range(docroot: Path, port: str) -> None:
    result = run("--root", str(docroot), "--port", port)
    assert_one_line_failure(result)


def test_root_is_required() -> None:
    result = run("--port", "0")
    assert result.returncode == 2
    assert "--root" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_cleanly_with_open_connections(start_server, docroot: Path,
                                                    sig: int) -> None:
    server = start_server(docroot)
    with server.raw() as idle, server.raw() as halfway:
        assert idle.request(get("/index.css")).body == INDEX_CSS
        halfway.send(b"GET /index.css HTTP/1.1\r\nHost: x\r\n")
        server.connection_event("open", halfway.address)
        assert server.stop(sig) == 0
        assert idle.closed_by_server() == b""
        halfway.closed_by_server()
    assert "Traceback" not in server.stderr.text
    assert server.events()[-1]["reason"] == signal.Signals(sig).name
    with pytest.raises(OSError):
        socket.create_connection((server.host, server.port), timeout=2).close()


def test_exit_on_stdin_eof(start_server, docroot: Path) -> None:
    server = start_server(docroot, "--exit-on-stdin-eof", stdin=subprocess.PIPE)
    with server.raw() as conn:
        assert conn.request(get("/index.css")).body == INDEX_CSS
    assert server.proc.stdin is not None
    server.proc.stdin.close()
    assert server.proc.wait(10) == 0
    server.stop()  # collects output; the process is already gone
    last = server.events()[-1]
    assert (last["type"], last["reason"]) == ("server.stopping", "stdin closed")


def test_without_exit_on_stdin_eof_stdin_is_ignored(start_server, docroot: Path) -> None:
    server = start_server(docroot, stdin=subprocess.PIPE)
    assert server.proc.stdin is not None
    server.proc.stdin.close()
    with server.raw() as conn:
        assert conn.request(get("/index.css")).body == INDEX_CSS
    assert server.proc.poll() is None


def test_access_log(start_server, docroot: Path) -> None:
    server = start_server(docroot)
    with server.raw() as conn:
        conn.request(get("/index.css?access-log-test"))
    line = server.stdout.wait_for_text("/index.css?access-log-test")
    assert "GET" in line and " 200 " in f" {line} "


def test_quiet_has_no_access_log(start_server, docroot: Path) -> None:
    server = start_server(docroot, "--quiet")
    with server.raw() as conn:
        conn.request(get("/index.css?quiet-test"))
    server.exchanges(conn.address)
    assert server.stop() == 0
    output = server.stdout.text + server.stderr.text
    assert "quiet-test" not in output


def test_host_option(start_server, docroot: Path) -> None:
    server = start_server(docroot, "--host", "127.0.0.1")
    assert server.host == "127.0.0.1"
    listening = server.wait_for(lambda e: True, "listening")[0]
    assert listening["host"] == "127.0.0.1" and listening["port"] == server.port


def test_resource_limits_are_applied_to_the_server_process(docroot: Path,
                                                           start_server) -> None:
    server = start_server(docroot, "--limit-memory", "256", "--limit-files", "64",
                          "--limit-cpu", "120")
    limits = Path(f"/proc/{server.proc.pid}/limits").read_text()
    rows = {line[:26].strip(): line[26:].split() for line in limits.splitlines()[1:]}
    assert rows["Max address space"][:2] == [str(256 * 1024 * 1024)] * 2
    assert rows["Max open files"][:2] == ["64", "64"]
    assert rows["Max cpu time"][:2] == ["120", "120"]
    with server.raw() as conn:  # and it still serves within them
        assert conn.request(get("/index.css")).body == INDEX_CSS


@pytest.mark.parametrize("option", ["--limit-memory", "--limit-files", "--limit-cpu"])
def test_non_positive_resource_limit_is_one_clear_line(docroot: Path, option: str) -> None:
    assert_one_line_failure(run("--root", str(docroot), option, "0"), option, "positive")


@pytest.mark.parametrize("option,value,words", [
    ("--min-rate", "-1", ("positive",)),
    # No minimum rate would let a body that never arrives hold its slot for ever.
    ("--min-rate", "0", ("positive", "for ever")),
    ("--rate-grace", "-1", ("negative",)),
])
def test_a_pace_that_bounds_nothing_is_one_clear_line(docroot: Path, option: str, value: str,
                                                      words: tuple[str, ...]) -> None:
    assert_one_line_failure(run("--root", str(docroot), option, value), option, *words)


# --- facts for a supervisor, as events (docs/events.md) ---------------------------------

def run_with_event_pipe(*args: str) -> tuple[subprocess.CompletedProcess[str],
                                              list[dict[str, Any]]]:
    """Run ``python -m henaserver ARGS --events-fd N`` to its end: its result, and every
    event it wrote to the pipe."""
    read_end, write_end = os.pipe()
    try:
        result = run(*args, "--events-fd", str(write_end), pass_fds=(write_end,))
    finally:
        os.close(write_end)
    with os.fdopen(read_end, "rb") as events:
        lines = events.read().split(b"\n")
    assert lines[-1] == b"", "the stream must end with a complete line"
    return result, [json.loads(line) for line in lines[:-1]]


def test_port_taken_by_another_server_is_a_start_failed_event(
        docroot: Path, start_server, reserve_ports) -> None:
    port = reserve_ports(1)[0]
    first = start_server(docroot, "--port", str(port))
    assert first.port == port
    result, events = run_with_event_pipe("--root", str(docroot), "--port", str(port))
    assert_one_line_failure(result, str(port))
    assert [event["type"] for event in events] == ["server.start_failed"]
    failed = events[0]
    assert failed["v"] == 1 and isinstance(failed["time"], float)
    assert (failed["reason"], failed["host"], failed["port"], failed["errno"]) == (
        "address_in_use", "127.0.0.1", port, errno.EADDRINUSE)
    assert result.stderr.strip() == f"henaserver: {failed['message']}"


def test_address_not_on_this_machine_is_a_start_failed_event(docroot: Path) -> None:
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this machine.
    result = run("--root", str(docroot), "--host", "192.0.2.1", "--port", "0",
                 "--events", "-")
    assert_one_line_failure(result, "192.0.2.1")
    failed = json.loads(result.stdout)  # the one and only line on stdout
    assert (failed["type"], failed["reason"], failed["errno"]) == (
        "server.start_failed", "address_not_available", errno.EADDRNOTAVAIL)
    assert (failed["host"], failed["port"]) == ("192.0.2.1", 0)


@pytest.mark.parametrize("error,reason,number", [
    (OSError(errno.EADDRINUSE, "Address already in use"), "address_in_use", errno.EADDRINUSE),
    (OSError(errno.EACCES, "Permission denied"), "permission_denied", errno.EACCES),
    (OSError(errno.EADDRNOTAVAIL, "Cannot assign"), "address_not_available",
     errno.EADDRNOTAVAIL),
    (OSError(errno.EAFNOSUPPORT, "Address family not supported"), "other", errno.EAFNOSUPPORT),
    (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "other", None),
])
def test_bind_errors_become_reasons(error: OSError, reason: str, number: int | None) -> None:
    failed = start_failed("example.test", 80, error)
    assert (failed.reason, failed.errno) == (reason, number)
    assert failed.message.startswith("cannot listen on example.test:80: ")


def test_once_mode_says_one_request_served_and_exits_0(docroot: Path) -> None:
    # Stopped by itself, cleanly: the supervisor reads that from the event, not from
    # the words on stdout.
    read_end, write_end = os.pipe()
    try:
        server = ServerProcess(["--root", str(docroot), "--port", "0", "--mode", "once",
                                "--events-fd", str(write_end)], docroot, events=False,
                               pass_fds=(write_end,))
    finally:
        os.close(write_end)
    with server.raw() as conn:
        assert conn.request(get("/index.css")).body == INDEX_CSS
    assert server.proc.wait(10) == 0
    server.stop()  # collects output; the process is already gone
    with os.fdopen(read_end, "rb") as stream:
        events = [json.loads(line) for line in stream.read().splitlines()]
    assert events[0]["type"] == "server.listening"
    assert (events[-1]["type"], events[-1]["reason"]) == ("server.stopping",
                                                          "one request served")
