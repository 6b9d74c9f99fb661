"""Whether a connection stays open after an exchange (RFC 9112 section 9.3, "Persistence").

One pure function, consulted in one place (``Connection._answer``), so the whole rule can
be read, and tested from a table, on its own. The client's side of it is
``http.keep_alive``; this adds the server's side.
"""

from __future__ import annotations

from .modes import ModePolicy


def close_reason(*, request_read: bool, timed_out: bool, client_keeps: bool,
                 response_closes: bool, policy: ModePolicy) -> str | None:
    """None if the connection persists after this exchange, else why it closes (the
    reason its ``connection.close`` event gives). The first rule that applies decides:

    1. The mode sends nothing (record-only): the connection has nothing more to carry.
    2. The request was not read to its end (malformed, too large, too slow, or turned
       away at the connection limit): where a next request would start is unknown, so
       the connection cannot be reused (RFC 9112 sections 6.3 and 9.6). A refused but
       well-framed request (417) is read to its end first, so this does not apply.
    3. The client asked to close, or is HTTP/1.0 without "keep-alive" (RFC 9112
       section 9.3, ``http.keep_alive``).
    4. The response ends only when the connection does (raw bytes without a correct
       Content-Length, RFC 9112 section 6.3), or follows an error the server will not
       read past (``HTTPError.close``), or the mode serves one request.

    Otherwise the connection persists, as HTTP/1.1 connections do (RFC 9112 section 9.3).
    """
    if not policy.answers:
        return "record-only mode"
    if not request_read:
        return "timeout" if timed_out else "bad request"
    if not client_keeps:
        return "Connection: close"
    if response_closes or policy.serves_one_request:
        return "server closed"
    return None
