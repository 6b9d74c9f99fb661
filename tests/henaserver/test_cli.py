"""The command line: --help, the port-0 banner, clean shutdown, and one-line failures."""

from __future__ import annotations

import signal
import socket
import subprocess
from pathlib import Path

import pytest
from rawhttp import get
from support import INDEX_CSS, ServerProcess, assert_one_line_failure, run

OPTIONS = ["--root", "--host", "--port", "--events", "--events-fd", "--exit-on-stdin-eof",
           "--quiet", "--body-cap", "--max-connections", "--header-timeout",
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
