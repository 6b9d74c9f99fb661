"""Every limit the server enforces, in one place, each with the reason it exists.

A server that accepts unbounded input can be made to use unbounded memory or time by one
client. Each number below caps one such resource; the comment says what happens at the
bound. The command line can override them (see ``__main__.py``).
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True)
class Limits:
    # Longest request line (method, target, version). Browsers cap URLs near 2 MB, but
    # nginx and Apache default to 8 KiB, so real clients never exceed it. Over: 414.
    max_request_line: int = 8 * KiB
    # Whole request head (request line + header fields). nginx uses 4 x 8 KiB buffers.
    # Over: 431 Request Header Fields Too Large (RFC 6585 section 5).
    max_head_bytes: int = 32 * KiB
    # Number of header fields. Each costs a tuple; a flood of tiny fields is cheap to
    # send and costly to hold. Over: 431.
    max_header_count: int = 100
    # Request body. A static file server needs none, but bodies must be read to keep a
    # connection usable (RFC 9112 section 6.3). Over: 413 Content Too Large, then close.
    max_body_bytes: int = 1 * MiB
    # A chunk-size line with extensions (RFC 9112 section 7.1.1). Over: 400.
    max_chunk_line: int = 4 * KiB

    # Seconds a client may take to send a whole request head, from its first byte; each
    # byte arriving in time does not extend it (slowloris drips one byte per read
    # timeout). Over: 408 Request Timeout, then close. See pace.py.
    header_timeout: float = 10.0
    # The pace a request (head or body) must keep once it has been arriving for
    # rate_grace seconds: min_rate bytes a second over its last rate_grace to
    # 2 x rate_grace seconds (an average since it began let a burst then silence hold a
    # slot for minutes). A body has no deadline of its own (its size is bounded, and it
    # must keep arriving), so an honest slow upload is not cut; a slow POST trickling a
    # few bytes every few seconds is. Apache's mod_reqtimeout uses 500 bytes/s. Below
    # it: 408, then close. At least 1: it is what bounds a body's time. See pace.py.
    min_rate: int = 1 * KiB
    rate_grace: float = 5.0
    # Seconds an idle connection is kept open waiting for the next request. Over: closed
    # silently (RFC 9112 section 9.5 allows closing idle connections at any time).
    idle_timeout: float = 5.0
    # Seconds a client may leave response bytes unread. Over: the connection is dropped.
    # Each byte read restarts it (as nginx's send_timeout): a download read slowly holds
    # its slot; it is never closed to make room, since the server owes it the answer.
    send_timeout: float = 30.0

    # Open client connections. Each costs a socket, a file descriptor and buffers. At the
    # bound a new connection makes room: the one that has waited on its client the
    # longest is closed (pace.room_rank says who may be). Only when none may be closed
    # does the newcomer get a short 503 with Retry-After, so it sees why instead of
    # hanging. Connections closing or lingering count too, for the moment they last.
    max_connections: int = 2000
    # Response bytes queued for one connection before the server stops reading more
    # pipelined requests from it: a client that sends without reading cannot make the
    # server buffer without end.
    output_high_water: int = 256 * KiB

    # Body bytes recorded per message in a traffic event. Heads are always recorded
    # whole; the full length is recorded too.
    capture_body_cap: int = 64 * KiB
    # Bytes of traffic events waiting for the writer thread (capture.queued_size: the
    # bodies as base64 plus the JSON around them). Full: new events are dropped and
    # counted (an ``events.dropped`` event reports them), so capture never slows serving.
    # 16 MiB is ~20,000 small exchanges, or ~120 with two 64 KiB bodies each.
    event_queue: int = 16 * MiB

    # Files up to this size are read into memory and cached (keyed by inode, size and
    # mtime, so a changed file is seen at once); larger files are streamed with sendfile.
    small_file: int = 256 * KiB
    # Total bytes the small-file cache may hold; the oldest entries are evicted first.
    file_cache_bytes: int = 32 * MiB


DEFAULT_LIMITS = Limits()


def limit_resources(*, memory_mb: int | None = None, files: int | None = None,
                    cpu_seconds: int | None = None) -> None:
    """Cap this process's own resources (for a supervisor running untrusted sandboxes).

    The server applies them to itself at start-up: a parent that set them between fork
    and exec would need ``preexec_fn``, which is unsafe in a threaded parent (a web site).
    Past a limit the kernel refuses: memory allocations fail (MemoryError, answered 500),
    new sockets fail (EMFILE: connections wait in the backlog), and at the CPU limit
    the process is sent SIGXCPU and ends.
    """
    wanted = ((resource.RLIMIT_AS, None if memory_mb is None else memory_mb * 1024 * 1024),
              (resource.RLIMIT_NOFILE, files), (resource.RLIMIT_CPU, cpu_seconds))
    for kind, value in wanted:
        if value is not None:
            resource.setrlimit(kind, (value, value))
