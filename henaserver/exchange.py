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


@dataclass
class ExchangeRecord:
    """What is known so far about one exchange: made with its index on the connection
    and the time its first byte arrived, filled in as it goes."""

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
    return Exchange(
        conn=conn, index=record.index, client=client,
        method=method, target=target, version=version, status=record.status,
        outcome=record.outcome, reason=record.reason,
        request=(request := capped_request(record.request, body_cap)),
        request_length=len(record.request),
        request_truncated=len(request) < len(record.request),
        response=b"".join(record.response), response_length=record.response_length,
        response_truncated=record.response_truncated,
        times=Times(accepted, record.first_byte, record.head_complete,
                    record.request_complete, record.response_start,
                    now if record.response_start is not None else None))


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
