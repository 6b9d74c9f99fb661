"""HTTP/1.1 requests without I/O: the grammar, and each protocol decision as a rule.

This module never touches a socket (the idea of h11). It holds what a request is
(``RequestHead``, ``Request``), how each of its parts is checked, and the errors:
malformed or refused input raises ``HTTPError`` carrying the status code to answer with.
``parser.py`` finds where each part starts and ends in a stream of bytes; ``response.py``
turns answers into bytes.

Every protocol decision is a small pure function with the RFC section beside it, so each
rule can be read, and tested from a table of bytes, on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Final

from .limits import DEFAULT_LIMITS, Limits


class HTTPError(Exception):
    """A request the server cannot or will not handle, with the status to answer.

    ``close`` is true when the connection cannot be trusted afterwards: after a framing
    error the server does not know where the next request starts (RFC 9112 section 6.3),
    so it must close after answering.
    """

    def __init__(self, status: int, reason: str, *, close: bool = True,
                 headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.close = close
        self.headers = headers


class RefusedRequest(HTTPError):
    """A well-formed request the server refuses while its framing is still known.

    So far only 417, an expectation the server cannot meet (RFC 9110 section 10.1.1): it
    is checked last, once the body's framing is known, so the request can still be read
    to its end (``RequestParser.read_refused_request``) and the connection kept.
    """

    def __init__(self, error: HTTPError, head: RequestHead) -> None:
        super().__init__(error.status, error.reason, close=False, headers=error.headers)
        self.head = head  # the parsed head, for reading past the body


# --- grammar (RFC 9110 section 5.6.2, RFC 9112 sections 3 and 5) -------------------

# token = 1*tchar
TCHAR: Final = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
TOKEN: Final = re.compile(TCHAR.decode("ascii") + "++")  # possessive, see FIELD_LINE
# request-line = method SP request-target SP HTTP-version (RFC 9112 section 3): a token,
# then visible bytes (no whitespace, no controls) twice, one space between; possessive
# like FIELD_LINE. PART_BYTES: the same part by part, for a line still arriving.
VISIBLE: Final = rb"[\x21-\x7e\x80-\xff]"
REQUEST_LINE: Final = re.compile(rb"(%s++) (%s++) (%s++)" % (TCHAR, VISIBLE, VISIBLE))
PART_BYTES: Final = tuple(re.compile(part + rb"*") for part in (TCHAR, VISIBLE, VISIBLE))
PART_NAMES: Final = ("method", "request target", "HTTP version")
# HTTP-version = "HTTP" "/" DIGIT "." DIGIT, case-sensitive (RFC 9112 section 2.3).
VERSION: Final = re.compile(rb"HTTP/([0-9])\.([0-9])")
# field-line = field-name ":" OWS field-value OWS (RFC 9112 section 5), decoded as
# latin-1; the value group takes the trailing OWS too (the caller strips it). A value
# holds visible characters, obs-text, SP and HTAB (RFC 9110 section 5.5): NUL, CR, LF and
# other controls are rejected, not "fixed". Every quantifier is possessive ("++", "*+"):
# it never gives back what it matched, so a line fails at its first wrong byte, in time
# linear in its length. (With plain ones, OWS around a value that may itself hold spaces
# let 32 KB of spaces before a control byte be tried in millions of ways: seconds.)
FIELD_LINE: Final = re.compile(
    r"([!#$%&'*+\-.^_`|~0-9A-Za-z]++):[ \t]*+([\x20-\x7e\x80-\xff\t]*+)")
# The empty line ending a head (find_head_end): at most 3 bytes, so searching is linear.
HEAD_END: Final = re.compile(rb"\n\r?\n")
HEX_DIGITS: Final = re.compile(rb"[0-9A-Fa-f]{1,16}")
DIGITS: Final = re.compile(r"[0-9]{1,18}")
# A Host value: reg-name or IPv4 or [IPv6], with an optional port (RFC 3986 section 3.2).
HOST_VALUE: Final = re.compile(
    r"(\[[0-9A-Fa-f:.]++\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*+)(:[0-9]*+)?")

# Methods this server knows (RFC 9110 section 9, PATCH from RFC 5789). Others get 501.
KNOWN_METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})


@dataclass(frozen=True)
class Framing:
    """How the request body is delimited (RFC 9112 section 6.3)."""

    kind: str  # "none", "length" or "chunked"
    length: int = 0


NO_BODY: Final = Framing("none")


# Header fields by lower-case name, each with its values in the order received (a field
# may come on several lines). Built once per request, so each lookup is one dict access.
Fields = dict[str, list[str]]


def index_fields(headers: tuple[tuple[str, str], ...]) -> Fields:
    """Group field values by name, matched case-insensitively (RFC 9110 section 5.1)."""
    fields: Fields = {}
    for name, value in headers:
        fields.setdefault(name.lower(), []).append(value)
    return fields


@dataclass(frozen=True)
class RequestHead:
    """A parsed request line and header section.

    ``headers`` keeps every field line in the order and case received (what the client
    sent, for people to read); ``fields`` indexes the same values by lower-case name (what
    the server looks up: ``get`` and ``values``).
    """

    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]
    framing: Framing
    keep_alive: bool
    expects_continue: bool
    fields: Fields = field(compare=False, repr=False)  # index_fields(headers)

    def get(self, name: str) -> str | None:
        """The first value of a header field, matched case-insensitively."""
        values = self.fields.get(name.lower())
        return values[0] if values else None

    def values(self, name: str) -> list[str]:
        """Every value of a header field, in order, matched case-insensitively."""
        return self.fields.get(name.lower(), [])


@dataclass(frozen=True)
class Request:
    """A complete request: its head, its decoded body and the exact bytes received."""

    head: RequestHead
    body: bytes
    raw: bytes


# --- protocol decisions as pure functions ------------------------------------------

def parse_version(raw: bytes) -> str:
    """Check an HTTP-version and return it as text.

    RFC 9110 section 6.2: a server should treat a higher minor version of a major version
    it supports as the highest minor it supports, so HTTP/1.2 is served as HTTP/1.1.
    Other major versions get 505 (RFC 9110 section 15.6.6).
    """
    match = VERSION.fullmatch(raw)
    if match is None:
        raise HTTPError(400, "malformed HTTP version")
    major, minor = int(match[1]), int(match[2])
    if major != 1:
        raise HTTPError(505, f"HTTP/{major}.{minor} is not supported; this server speaks HTTP/1.1")
    return "HTTP/1.0" if minor == 0 else "HTTP/1.1"


def list_tokens(values: list[str]) -> list[str]:
    """Split comma-separated list fields into lower-case members (RFC 9110 section 5.6.1)."""
    return [part.strip().lower() for value in values for part in value.split(",")
            if part.strip()]


def check_host(version: str, fields: Fields) -> None:
    """RFC 9112 section 3.2: a server MUST respond 400 to an HTTP/1.1 request that lacks
    a Host header field, has more than one, or has an invalid value."""
    hosts = fields.get("host", [])
    if len(hosts) > 1:
        raise HTTPError(400, "duplicate Host header")
    if not hosts:
        if version == "HTTP/1.1":
            raise HTTPError(400, "missing Host header (required by HTTP/1.1)")
        return
    if HOST_VALUE.fullmatch(hosts[0]) is None:
        raise HTTPError(400, "invalid Host header")


def body_framing(version: str, fields: Fields, limits: Limits = DEFAULT_LIMITS) -> Framing:
    """Decide how the request body is delimited (RFC 9112 section 6.3)."""
    codings = fields.get("transfer-encoding", [])
    lengths = fields.get("content-length", [])
    if codings:
        if version == "HTTP/1.0":
            # Section 6.1: Transfer-Encoding in HTTP/1.0 means the framing is faulty.
            raise HTTPError(400, "Transfer-Encoding is not allowed in HTTP/1.0")
        if lengths:
            # Section 6.1: both present is how request smuggling works; reject, then close.
            raise HTTPError(400, "both Transfer-Encoding and Content-Length")
        tokens = list_tokens(codings)
        if not tokens or tokens[-1] != "chunked" or tokens.count("chunked") > 1:
            # Section 6.3 rule 4: chunked must be the final coding, applied once.
            raise HTTPError(400, "chunked is not the final transfer coding")
        if len(tokens) > 1:
            # Section 6.1: an unknown transfer coding SHOULD get 501.
            raise HTTPError(501, f"transfer coding {tokens[0]!r} is not implemented")
        return Framing("chunked")
    if lengths:
        # RFC 9110 section 8.6: a list of identical values may be taken as one; anything
        # else (different values, signs, spaces inside) is invalid.
        members = [part.strip() for value in lengths for part in value.split(",")]
        if any(DIGITS.fullmatch(member) is None for member in members):
            raise HTTPError(400, "invalid Content-Length")
        if len(set(int(member) for member in members)) != 1:
            raise HTTPError(400, "conflicting Content-Length values")
        length = int(members[0])
        if length > limits.max_body_bytes:
            raise HTTPError(413, f"request body of {length} bytes is over the limit of "
                                 f"{limits.max_body_bytes}")
        return Framing("length", length) if length else NO_BODY
    # Section 6.3 rule 7: a request with neither has no body.
    return NO_BODY


def keep_alive(version: str, fields: Fields) -> bool:
    """Whether the client wants the connection kept after this exchange (RFC 9112
    section 9.3): HTTP/1.1 persists unless "close" is sent; HTTP/1.0 only with
    "keep-alive". The server's whole decision is ``persistence.close_reason``."""
    options = list_tokens(fields.get("connection", []))
    if "close" in options:
        return False
    if version == "HTTP/1.0":
        return "keep-alive" in options
    return True


def expects_continue(version: str, fields: Fields) -> bool:
    """RFC 9110 section 10.1.1: "100-continue" is the only expectation defined; any
    other gets 417. HTTP/1.0 clients do not understand 100 (section 15.2)."""
    expectations = list_tokens(fields.get("expect", []))
    if not expectations:
        return False
    if expectations != ["100-continue"]:
        raise HTTPError(417, "unsupported expectation", close=False)
    return version == "HTTP/1.1"


def parse_head(head: bytes, limits: Limits = DEFAULT_LIMITS) -> RequestHead:
    """Parse a request head: everything up to (not including) the empty line."""
    line, _, section = head.partition(b"\n")
    request_line = parse_request_line(line.removesuffix(b"\r"), limits)
    return parse_header_section(request_line, section, limits)


def parse_header_section(request_line: tuple[str, str, str], section: bytes,
                         limits: Limits = DEFAULT_LIMITS) -> RequestHead:
    """Parse the field lines after a request line and apply the rules that need them.

    ``section`` is the bytes between the request line and the empty line that ends the
    head, each line ending in CRLF or LF (the last one's ending may be left off).
    """
    method, target, version = request_line
    section = section.replace(b"\r\n", b"\n").removesuffix(b"\n")
    if b"\r" in section:
        # RFC 9112 section 2.2: a bare CR MUST be rejected or replaced.
        raise HTTPError(400, "bare CR in request head")
    # Decoded once, as latin-1: each byte becomes the character with the same number, so
    # nothing is lost or guessed, and the checks below still see every byte as it came.
    lines = section.decode("latin-1").split("\n") if section else []
    if len(lines) > limits.max_header_count:
        raise HTTPError(431, f"more than {limits.max_header_count} header fields")
    headers = tuple(parse_field_line(line) for line in lines)
    fields = index_fields(headers)
    check_host(version, fields)
    framing = body_framing(version, fields, limits)
    alive = keep_alive(version, fields)
    try:
        # Checked last, and even without a body, so an unknown expectation always gets
        # 417; everything before it held, so the request's end is known.
        wants_continue = expects_continue(version, fields)
    except HTTPError as error:
        head_read = RequestHead(method, target, version, headers, framing, alive, False, fields)
        raise RefusedRequest(error, head_read) from None
    return RequestHead(method, target, version, headers, framing, alive,
                       wants_continue and framing is not NO_BODY, fields)


def check_request_line_start(line: bytes | bytearray, resume: tuple[int, int] = (0, 0),
                             end: int | None = None, *, complete: bool = False
                             ) -> tuple[int, int]:
    """Reject the first bytes of a request line as soon as they can never begin one.

    A TLS handshake (0x16), binary, a NUL or a bare CR is refused from the bytes that show
    it, not at the header timeout: a method is a token (RFC 9110 section 9.1), so any other
    byte before the first space is already wrong. ``line[:end]`` is the line so far, no LF
    (unless ``complete``, a final CR may be half a CRLF). The result, (where it stopped,
    which part it was in), is ``resume`` for the next call with more of the same line.
    """
    end = len(line) if end is None else end
    at, part = resume  # part: 0 method, 1 target, 2 version
    while True:
        match = PART_BYTES[part].match(line, at, end)
        at = match.end() if match else at
        if at == end:
            return at, part
        byte = line[at]
        if byte == 0x20 and part < 2 and at > 0 and line[at - 1] != 0x20:
            part, at = part + 1, at + 1  # one space after a part that is not empty
        elif byte == 0x0D and at == end - 1 and not complete:
            return at, part  # judged again with the byte after it
        elif byte == 0x0D:
            raise HTTPError(400, "bare CR in request line")
        elif at == 0 and byte == 0x16:
            raise HTTPError(400, "malformed request line: this looks like a TLS handshake "
                                 "(https:// sent to an http:// port?)")
        elif at == 0 or byte in b" \t":
            raise HTTPError(400, "malformed request line")
        else:
            raise HTTPError(400, f"malformed {PART_NAMES[part]}")


def parse_request_line(line: bytes, limits: Limits = DEFAULT_LIMITS) -> tuple[str, str, str]:
    """Split and check a request line (RFC 9112 section 3)."""
    if len(line) > limits.max_request_line:
        raise HTTPError(414, f"request line longer than {limits.max_request_line} bytes")
    match = REQUEST_LINE.fullmatch(line)
    if match is None:
        check_request_line_start(line, complete=True)  # says which byte is out of place
        missing = ": no HTTP version (HTTP/0.9 is not served)" if line.count(b" ") == 1 else ""
        raise HTTPError(400, f"malformed request line{missing}")
    method, target, version = match.groups()
    return method.decode("ascii"), target.decode("latin-1"), parse_version(version)


def peek_request_line(raw: bytes) -> tuple[str, str, str] | None:
    """Best effort: the request line of a rejected request, for logs and events."""
    line = raw.lstrip(b"\r\n").split(b"\n", 1)[0].rstrip(b"\r")
    parts = line.split(b" ")
    if len(parts) != 3 or not all(parts) or not TOKEN.fullmatch(parts[0].decode("latin-1")):
        return None
    return parts[0].decode("ascii"), parts[1].decode("latin-1"), parts[2].decode("latin-1")


def parse_field_line(line: str) -> tuple[str, str]:
    """Split a field line (decoded as latin-1) into name and value (RFC 9112 section 5)."""
    match = FIELD_LINE.fullmatch(line)
    if match is not None:  # the usual, well-formed case, checked in one step
        return match[1], match[2].rstrip(" \t")
    # Otherwise find out which rule it breaks, to say so in the 400 response.
    if line[:1] in (" ", "\t"):
        # Section 5.2: obsolete line folding; a server may reject it with 400.
        raise HTTPError(400, "obsolete line folding in header")
    name, colon, _value = line.partition(":")
    if not colon:
        raise HTTPError(400, "header line without a colon")
    if name != name.rstrip(" \t"):
        # Section 5.1: whitespace between name and colon MUST be rejected with 400.
        raise HTTPError(400, "whitespace before colon in header")
    if TOKEN.fullmatch(name) is None:
        raise HTTPError(400, "malformed header name")
    raise HTTPError(400, "control character in header value")


def find_head_end(buffer: bytes | bytearray, start: int = 0) -> tuple[int, int]:
    """Find the empty line ending a head: return (head_end, body_start), or (-1, -1).

    RFC 9112 section 2.2 lets a recipient accept a bare LF as a line terminator, which
    is what people type into netcat; so the head ends at LF CR LF or at LF LF. One
    search stops at the first of either: a ``find`` per form ran to the buffer's end for
    the absent one, so each of many pipelined heads rescanned all the rest.
    """
    found = HEAD_END.search(buffer, start)
    return (-1, -1) if found is None else (found.start() + 1, found.end())


def parse_chunk_size(line: bytes) -> int:
    """chunk-size [ chunk-ext ] (RFC 9112 section 7.1): hex digits, extensions ignored."""
    size, _, _extensions = line.partition(b";")
    size = size.rstrip(b" \t")
    if HEX_DIGITS.fullmatch(size) is None:
        raise HTTPError(400, "invalid chunk size")
    return int(size, 16)


# --- status codes (RFC 9110 section 15) --------------------------------------------

# RFC 9110 renamed a few statuses; Python 3.11's table still has the older names.
RFC9110_PHRASES: Final = {413: "Content Too Large", 414: "URI Too Long",
                          416: "Range Not Satisfiable", 422: "Unprocessable Content"}
# Every phrase by status, in one table: asked for each response, a dict lookup here is a
# tenth of what making an HTTPStatus member took (about 0.5 µs).
PHRASES: Final = {status.value: status.phrase for status in HTTPStatus} | RFC9110_PHRASES


def reason_phrase(status: int) -> str:
    """The standard reason phrase, e.g. 404 -> "Not Found" (RFC 9110 section 15)."""
    return PHRASES.get(status, "Unknown")
