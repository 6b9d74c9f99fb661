"""The command line: ``python -m henaserver --root DIR [options]`` (``--help`` for all),
and ``python -m henaserver relay --listen HOST:PORT --to HOST:PORT`` for the capture
relay in front of another server (``relay.py``; ``relay --help``)."""

from __future__ import annotations

import argparse
import dataclasses
import errno
import logging
import os
import signal
import socket
import sys
import threading
from types import FrameType
from typing import Final, Protocol, TextIO

from .capture import EventSink, ServerStartFailed, open_stream
from .http import HTTPError
from .limits import DEFAULT_LIMITS, Limits, limit_resources
from .modes import FULL, MODES, build_handler, policy_for
from .relay import Relay, split_address, upstream_address
from .relay_events import RelayLimits
from .server import Server, StopReason

# The signals that stop the server cleanly, and the stop reason each gives.
STOP_SIGNALS: dict[signal.Signals, StopReason] = {signal.SIGINT: "SIGINT",
                                                  signal.SIGTERM: "SIGTERM"}

# Why bind() failed, as the server.start_failed event names it and as a person reads it.
# Any other error is "other", worded by the operating system.
BIND_ERRORS = {
    errno.EADDRINUSE: ("address_in_use",
                       "address already in use (another program is listening there)"),
    errno.EACCES: ("permission_denied", "permission denied (ports below 1024 need root)"),
    errno.EADDRNOTAVAIL: ("address_not_available", "this machine has no such address"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m henaserver",
        description="A small HTTP/1.1 static file server that records every exchange.",
        epilog="Traffic events are documented in docs/events.md. To record the traffic "
               "of another server instead: python -m henaserver relay --listen HOST:PORT "
               "--to HOST:PORT (see relay --help).")
    parser.add_argument("--root", required=True, help="directory of files to serve")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8080,
                        help="port to listen on; 0 lets the OS choose (default: %(default)s)")
    add_capture_options(parser.add_argument_group("traffic capture"))
    limits = parser.add_argument_group("limits")
    limits.add_argument("--max-connections", type=int, metavar="N",
                        default=DEFAULT_LIMITS.max_connections,
                        help="open connections; at the limit a new one makes room by "
                             "closing the one that has waited on its client the longest, "
                             "else gets 503 (default: %(default)s)")
    limits.add_argument("--header-timeout", type=float, metavar="SECONDS",
                        default=DEFAULT_LIMITS.header_timeout,
                        help="time to send a whole request head, from its first byte, "
                             "before 408 (default: %(default)s)")
    limits.add_argument("--min-rate", type=int, metavar="BYTES",
                        default=DEFAULT_LIMITS.min_rate,
                        help="bytes per second a request (head or body) must keep over "
                             "its last --rate-grace to 2 x --rate-grace seconds, once it has "
                             "taken --rate-grace, or 408; at least 1 (default: %(default)s)")
    limits.add_argument("--rate-grace", type=float, metavar="SECONDS",
                        default=DEFAULT_LIMITS.rate_grace,
                        help="time a request may take at any rate (default: %(default)s)")
    limits.add_argument("--idle-timeout", type=float, metavar="SECONDS",
                        default=DEFAULT_LIMITS.idle_timeout,
                        help="idle keep-alive connections are closed after this "
                             "(default: %(default)s)")
    modes = parser.add_argument_group("modes (see henaserver/modes.py)")
    modes.add_argument("--mode", choices=MODES, default=FULL.name,
                       help="full: the real server; no-content-type: everything is "
                            "text/html; once: one request, then exit; fixed: the same raw "
                            "response to every request; record-only: record, reply nothing "
                            "(default: %(default)s)")
    modes.add_argument("--fixed-response", metavar="FILE",
                       help="raw response bytes for --mode fixed (re-read when changed)")
    modes.add_argument("--rules", metavar="FILE",
                       help='JSON response rules answered before the mode: {"rules": '
                            '[{"method": "GET", "path": "/test", "response": "..."}]} '
                            "(re-read when changed)")
    limits.add_argument("--limit-memory", type=int, metavar="MB",
                        help="cap this process's address space (RLIMIT_AS)")
    limits.add_argument("--limit-files", type=int, metavar="N",
                        help="cap open files and sockets (RLIMIT_NOFILE)")
    limits.add_argument("--limit-cpu", type=int, metavar="SECONDS",
                        help="cap CPU time; the process ends when it is used up (RLIMIT_CPU)")
    parser.add_argument("--quiet", action="store_true", help="no access log on stdout")
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="stop when standard input closes (for a supervising parent: "
                             "the server then never outlives it)")
    return parser


def add_capture_options(events: argparse._ArgumentGroup) -> None:
    """The options of the event stream, the same for the server and the relay."""
    events.add_argument("--events", metavar="PATH|-",
                        help="write traffic events as JSON lines to PATH, or - for stdout")
    events.add_argument("--events-fd", type=int, metavar="N",
                        help="write traffic events to the inherited file descriptor N")
    events.add_argument("--body-cap", type=int, metavar="BYTES",
                        default=DEFAULT_LIMITS.capture_body_cap,
                        help="body bytes recorded per message (default: %(default)s)")
    events.add_argument("--event-queue", type=int, metavar="BYTES",
                        default=DEFAULT_LIMITS.event_queue,
                        help="bytes of events waiting to be written before new ones are "
                             "dropped and counted (default: %(default)s)")


def fail(message: str) -> int:
    print(f"henaserver: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["relay"]:
        # A subcommand only when it comes first, so every existing command line (which
        # starts with an option) means what it meant.
        return relay_main(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(stream=sys.stderr, format="henaserver: %(levelname)s: %(message)s")
    root = os.path.abspath(args.root)
    if not os.path.isdir(root):
        return fail(f"document root {root} does not exist or is not a directory")
    if not 0 <= args.port <= 65535:
        return fail(f"port {args.port} is out of range (0-65535)")
    for option in ("limit_memory", "limit_files", "limit_cpu"):
        value = getattr(args, option)
        if value is not None and value <= 0:
            return fail(f"--{option.replace('_', '-')} must be a positive number")
    if args.min_rate <= 0:  # it is what bounds the time a request body may take
        return fail("--min-rate must be a positive number: without it a request body "
                    "that stops arriving would hold its connection for ever")
    if args.rate_grace < 0:  # 0 is allowed: the rate counts from the first sweep
        return fail("--rate-grace must not be negative")
    try:
        limit_resources(memory_mb=args.limit_memory, files=args.limit_files,
                        cpu_seconds=args.limit_cpu)
    except (ValueError, OSError) as error:
        return fail(f"cannot apply the resource limits: {error}")
    limits = dataclasses.replace(
        Limits(), capture_body_cap=args.body_cap, event_queue=args.event_queue,
        max_connections=args.max_connections, header_timeout=args.header_timeout,
        idle_timeout=args.idle_timeout, min_rate=args.min_rate, rate_grace=args.rate_grace)
    try:
        stream = open_stream(args.events, args.events_fd)
    except OSError as error:
        return fail(f"cannot open the event stream: {error.strerror}")
    # With events on stdout, the human-readable lines move to stderr.
    console: TextIO = sys.stderr if args.events == "-" else sys.stdout
    policy = policy_for(args.mode)
    try:
        handler = build_handler(policy, root, limits, fixed_response=args.fixed_response,
                                rules=args.rules)
    except (ValueError, OSError, HTTPError) as error:
        return fail(str(error))
    sink = EventSink(stream, limits.event_queue) if stream is not None else None
    server = Server(handler, limits, sink=sink, access_log=None if args.quiet else console,
                    policy=policy, root=root)
    return run(server, args.host, args.port, sink, exit_on_stdin_eof=args.exit_on_stdin_eof,
               console=console, name="henaserver", serving=f"serving {root} at")


class Serving(Protocol):
    """What ``run`` needs of a henaserver ``Server`` or a ``Relay``."""

    @property
    def url(self) -> str: ...
    def bind(self, host: str, port: int) -> None: ...
    def stop(self, reason: StopReason) -> None: ...
    def serve(self) -> StopReason: ...


def run(target: Serving, host: str, port: int, sink: EventSink | None, *,
        exit_on_stdin_eof: bool, console: TextIO, name: str, serving: str,
        after: str = "") -> int:
    """Bind (or report why not), stop on SIGINT/SIGTERM (and stdin's end if asked),
    print the banner with the URL a parent waits for, and serve until stopped."""
    try:
        target.bind(host, port)
    except OSError as error:
        failed = start_failed(host, port, error)
        if sink is not None:
            # The supervisor's fact, sent instead of server.listening (docs/events.md).
            sink.emit(failed, force=True)
            sink.close()
        return fail(failed.message)

    def on_signal(number: int, frame: FrameType | None) -> None:
        target.stop(STOP_SIGNALS[signal.Signals(number)])

    for number in STOP_SIGNALS:
        signal.signal(number, on_signal)
    if exit_on_stdin_eof:
        threading.Thread(target=wait_for_stdin_eof, args=(target,), daemon=True).start()
    print(f"{name}: {serving} {target.url}{after} (Ctrl+C to stop)", file=console,
          flush=True)
    reason = target.serve()
    print(f"{name}: stopped ({reason})", file=console, flush=True)
    return 0


# Each RelayLimits field is an option of the same name (``--response-timeout`` ...).
RELAY_LIMIT_HELP: Final = {
    "response_timeout": "a request the server has not answered for this long gets a 504 "
                        "from the relay, recorded as never_answered",
    "idle_timeout": "a connection with nothing owed either way and no byte in either "
                    "direction for this long is closed (a request begun and stopped is "
                    "recorded as timed_out)",
    "header_timeout": "time to send a whole request head, from its first byte, before a "
                      "408 from the relay",
    "connect_timeout": "time for the server to accept a connection before a 502 from the "
                       "relay, recorded as not_accepting",
    "max_connections": "open browser connections; at the limit a new one makes room by "
                       "closing the quietest that owes nothing, else waits to be accepted",
    "waiting_after": "a request unanswered this long is announced with an "
                     "exchange.waiting event; 0: every request",
}


def build_relay_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m henaserver relay",
        description="The capture relay: listen for browsers, forward every byte to "
                    "another HTTP server and back unchanged, and record each exchange as "
                    "henaserver does, naming what that server did wrong.",
        epilog="Events and mistake names: docs/events.md; how it works: docs/relay.md.")
    parser.add_argument("--listen", required=True, metavar="HOST:PORT",
                        help="address browsers connect to (port 0: the OS chooses)")
    parser.add_argument("--to", required=True, metavar="HOST:PORT|unix:PATH",
                        help="the server to forward to, over TCP or a Unix socket; when "
                             "nothing listens there each browser connection gets a 502 "
                             "answer from the relay")
    add_capture_options(parser.add_argument_group("traffic capture"))
    limits = parser.add_argument_group("limits")
    for field, text in RELAY_LIMIT_HELP.items():  # RelayLimits' fields, in its order
        default = getattr(RelayLimits(), field)
        limits.add_argument("--" + field.replace("_", "-"), type=type(default),
                            metavar="N" if isinstance(default, int) else "SECONDS",
                            default=default, help=text + " (default: %(default)s)")
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="stop when standard input closes")
    return parser


def relay_main(argv: list[str]) -> int:
    args = build_relay_parser().parse_args(argv)
    try:
        host, port = split_address(args.listen)
        upstream = upstream_address(args.to)
    except ValueError as error:
        return fail(str(error))
    limits = RelayLimits(**{field: getattr(args, field) for field in RELAY_LIMIT_HELP})
    if min(limits.response_timeout, limits.idle_timeout, limits.header_timeout,
           limits.connect_timeout, limits.max_connections) <= 0 or limits.waiting_after < 0:
        return fail("the timeouts and --max-connections must be positive numbers, "
                    "--waiting-after 0 or more")
    try:
        stream = open_stream(args.events, args.events_fd)
    except OSError as error:
        return fail(f"cannot open the event stream: {error.strerror}")
    console: TextIO = sys.stderr if args.events == "-" else sys.stdout
    sink = EventSink(stream, args.event_queue) if stream is not None else None
    relay = Relay(upstream, sink=sink, body_cap=args.body_cap, limits=limits)
    return run(relay, host, port, sink, exit_on_stdin_eof=args.exit_on_stdin_eof,
               console=console, name="henaserver relay", serving="listening at",
               after=f" -> {args.to}")


def start_failed(host: str, port: int, error: OSError) -> ServerStartFailed:
    """What a failed bind means, for a supervisor (``reason``) and a person (``message``).

    A name that does not resolve fails in getaddrinfo (``socket.gaierror``): its number
    is not an OS errno, so none is given.
    """
    number = None if isinstance(error, socket.gaierror) else error.errno
    reason, why = BIND_ERRORS.get(number or 0, ("other", error.strerror or str(error)))
    return ServerStartFailed(reason, host, port, number,
                             f"cannot listen on {host}:{port}: {why}")


def wait_for_stdin_eof(server: Serving) -> None:
    """The kernel closes our stdin pipe however the parent dies (even kill -9), so EOF
    here means nobody supervises us any more.

    It reads the raw descriptor, not ``sys.stdin``: a daemon thread blocked inside the
    buffered reader holds its lock, and Python aborts if it finds that lock held at
    exit (when the server stops for another reason first).
    """
    try:
        while os.read(sys.stdin.fileno(), 4096):
            pass
    except (OSError, ValueError):
        pass
    server.stop("stdin closed")


if __name__ == "__main__":
    sys.exit(main())
