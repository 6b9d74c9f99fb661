"""One exchange as a connection sees it: what is known so far, and the event it becomes.

The connection fills an ``ExchangeRecord`` while the request arrives and its answer
leaves (``output.py`` adds what is written). When the exchange ends,
``exchange_event`` turns the record into the ``Exchange`` traffic event of
docs/events.md, with bodies cut at the capture cap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .capture import Exchange, Times
from .http import HTTPError, RequestHead, find_head_end


@dataclass(slots=True)
class ExchangeRecord:
    """What is known so far about one exchange: made with its index on the connection
    and the time its first byte arrived, filled in as it goes. (One is made per request:
    slots make it smaller and quicker to make and to read.)"""

    index: int
    first_byte: float | None = None
    head_complete: float | None = None
    request_complete: float | None = None
    response_start: float | None = None
    head: RequestHead | None = None
    request_line: tuple[str, str, str] | None = None  # when the head did not parse
    request: bytes = b""
    status: int | None = None
    response: list[bytes] = field(default_factory=list)  # recorded chunks, joined once
    response_length: int = 0
    response_truncated: bool = False
    outcome: str = "complete"
    reason: str | None = None
    # A refused but well-framed request (417): read to its end, then answered with this
    # error instead of the handler's response.
    refusal: HTTPError | None = None

    def reject(self, error: HTTPError) -> None:
        """The request was refused: its outcome says so, unless it already says more
        (``timed_out``), and the reason is the error's."""
        if self.outcome == "complete":
            self.outcome = "rejected"
        self.reason = error.reason


def exchange_event(record: ExchangeRecord, *, conn: int, client: str, accepted: float,
                   now: float, body_cap: int | None) -> Exchange:
    """The traffic event of an exchange that has ended (``body_cap`` None: capture off,
    so no bytes are kept)."""
    head = record.head
    method, target, version = ((head.method, head.target, head.version) if head
                               else record.request_line or (None, None, None))
    raw = record.request
    request = capped_request(raw, body_cap)
    response = record.response
    # One chunk is the usual case: the head and body went out in one piece.
    recorded = response[0] if len(response) == 1 else b"".join(response)
    response_start = record.response_start
    # Positional, in the field order of Exchange and Times: this runs once per request.
    return Exchange(
        conn, record.index, client, method, target, version, record.status,
        record.outcome, record.reason,
        request, len(raw), len(request) < len(raw),
        recorded, record.response_length, record.response_truncated,
        Times(accepted, record.first_byte, record.head_complete, record.request_complete,
              response_start, None if response_start is None else now))


def capped_request(raw: bytes, body_cap: int | None) -> bytes:
    """The whole head, and the body up to the capture cap (see docs/events.md)."""
    if body_cap is None:
        return b""
    if len(raw) <= body_cap:
        return raw  # too short for its body to exceed the cap
    _, body_start = find_head_end(raw)
    if body_start == -1:
        return raw
    return raw[:body_start + body_cap]
