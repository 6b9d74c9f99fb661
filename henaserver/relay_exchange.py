"""What the relay knows of one exchange while it waits for the answer, the event it
becomes, and the relay's own answers when the learner's server gives none."""

from __future__ import annotations

from dataclasses import dataclass, field

from .capture import Exchange, Times
from .exchange import capped_request
from .http import Request, peek_request_line


@dataclass
class Waiting:
    """A request forwarded to the server, and what is known of its answer so far."""

    index: int
    request: Request | None  # None: the request was cut off or could not be parsed
    raw: bytes  # as recorded: capped (capped_request) when ``length`` says more came
    first_byte: float | None
    head_complete: float | None
    request_complete: float | None
    response_start: float | None = None
    reason: str | None = None  # why the request is not one the parser could read
    unreadable: bool = False  # the parser refused it: answered whole, it is `rejected`
    announced: bool = False  # its exchange.waiting was sent (relay_bounds.check)
    # Bytes past the response's end, before the next one began: body_too_long.
    extra: list[bytes] = field(default_factory=list)
    length: int = -1  # all the request's bytes (-1: len(raw))


def relay_error(status: int, phrase: str, text: str) -> bytes:
    """The relay's own answer when the learner's server cannot give one (502, 504):
    the browser gets a page that says why instead of a reset, and the event records
    these bytes as the response (its ``mistake`` says who answered)."""
    body = text.encode("utf-8") + b"\n"
    return (f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


def exchange_of(record: Waiting, *, conn: int, client: str, accepted: float,
                status: int | None, outcome: str, reason: str | None, response: bytes,
                response_length: int, mistake: str | None, now: float, body_cap: int
                ) -> Exchange:
    """The exchange event, with both messages cut as henaserver cuts them (the whole
    head, the body up to ``body_cap``). ``response_end`` is when the last response byte
    came from the server."""
    head = record.request.head if record.request else None
    method, target, version = ((head.method, head.target, head.version) if head
                               else peek_request_line(record.raw) or (None, None, None))
    sent = capped_request(record.raw, body_cap)
    length = len(record.raw) if record.length < 0 else record.length
    kept = capped_request(response, body_cap)
    start = record.response_start
    return Exchange(conn, record.index, client, method, target, version, status, outcome,
                    reason, sent, length, len(sent) < length, kept,
                    response_length, len(kept) < response_length,
                    Times(accepted, record.first_byte, record.head_complete,
                          record.request_complete, start, None if start is None else now),
                    mistake=mistake)
