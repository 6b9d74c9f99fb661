"""Validators, conditional requests and byte ranges (RFC 9110 sections 8.8, 13 and 14).

``static.py`` finds the file; the pure functions here decide what to answer about it
from the request's fields and the file's validators: 412 when a precondition fails,
304 when the client's copy is current, 206 for a range, 416 for a range past the end,
otherwise the whole file. Every field is a client's bytes: anything that does not parse
is ignored or refused with a 4xx, never an exception (fuzzed by
tests/henaserver/fuzz_static.py).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Final

from .http import HTTPError, RequestHead

# The fields of steps 1 to 4 of RFC 9110 section 13.2.2, lower-cased.
PRECONDITIONS: Final = frozenset({"if-match", "if-unmodified-since", "if-none-match",
                                  "if-modified-since"})
RANGE: Final = re.compile(r"bytes=([0-9]*)-([0-9]*)")
# A range position with more significant digits than this is past the end of any file
# (10**18 bytes is about 900 PB), so it is not converted: int() refuses more than 4,300
# digits, and converting a long run would cost time for nothing.
MAX_POSITION_DIGITS: Final = 18
BEYOND_ANY_FILE: Final = 10**MAX_POSITION_DIGITS

# HTTP-date (RFC 9110 section 5.6.7): IMF-fixdate, and the two obsolete forms a
# recipient MUST also accept. Case-sensitive, in GMT, four-digit years (two in
# rfc850-date), so no date can overflow.
MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                 "Nov", "Dec")
_MONTH = "(" + "|".join(MONTHS) + ")"
_TIME = "([0-9]{2}):([0-9]{2}):([0-9]{2})"
IMF_FIXDATE: Final = re.compile(
    rf"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{{2}}) {_MONTH} ([0-9]{{4}}) {_TIME} GMT")
RFC850_DATE: Final = re.compile(
    r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), "
    rf"([0-9]{{2}})-{_MONTH}-([0-9]{{2}}) {_TIME} GMT")
ASCTIME_DATE: Final = re.compile(
    rf"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) {_MONTH} ([0-9 ][0-9]) {_TIME} ([0-9]{{4}})")


@dataclass(frozen=True)
class FileInfo:
    """A file's validators (RFC 9110 section 8.8) and size."""

    size: int
    mtime: float
    etag: str
    last_modified: str


@functools.lru_cache(maxsize=1024)
def file_info(mtime_ns: int, size: int) -> FileInfo:
    """Validators from the modification time and size (a strong ETag, like nginx's).
    They depend on nothing else, so they are cached by those two: formatting the date
    costs more than the rest of a cache hit."""
    mtime = mtime_ns / 1e9
    etag = f'"{mtime_ns:x}-{size:x}"'
    return FileInfo(size, mtime, etag, formatdate(mtime, usegmt=True))


def parse_http_date(value: str) -> float | None:
    """An HTTP-date as a timestamp, or None when it is not one (RFC 9110 section 5.6.7).

    Only the three forms the RFC defines are accepted: If-Modified-Since and
    If-Unmodified-Since MUST be ignored unless they hold exactly one valid HTTP-date
    (sections 13.1.3 and 13.1.4), so a lenient parser would act on what the client never
    sent, such as the first of a list of two dates.
    """
    if match := IMF_FIXDATE.fullmatch(value):
        day, month, year, hour, minute, second = match.groups()
    elif match := RFC850_DATE.fullmatch(value):
        day, month, two_digits, hour, minute, second = match.groups()
        # A two-digit year more than 50 years ahead is the latest past year ending so.
        this_year = datetime.now(UTC).year
        full = this_year // 100 * 100 + int(two_digits)
        year = str(full - 100 if full > this_year + 50 else full)
    elif match := ASCTIME_DATE.fullmatch(value):
        month, day, hour, minute, second, year = match.groups()
    else:
        return None
    try:
        return datetime(int(year), MONTHS.index(month) + 1, int(day), int(hour),
                        int(minute), int(second), tzinfo=UTC).timestamp()
    except ValueError:  # 31 February, 25 o'clock, year 0000
        return None


def conditions(head: RequestHead) -> dict[str, str]:
    """The precondition fields of a request by lower-case name, from the head's index. A
    field sent on several lines is one list, its values joined with commas (RFC 9110
    section 5.3): two If-Modified-Since lines are a list of two dates, which is not a
    date."""
    return {name: ", ".join(values) for name in PRECONDITIONS if (values := head.values(name))}


def entity_tags(value: str) -> list[str]:
    """The members of an If-Match or If-None-Match list (RFC 9110 section 13.1.1)."""
    return [tag.strip() for tag in value.split(",")]


def strong_match(value: str, etag: str) -> bool:
    """If-Match (section 13.1.1): "*", or one of the tags by strong comparison (a weak
    tag never matches, section 8.8.3.2)."""
    return value.strip() == "*" or etag in entity_tags(value)


def weak_match(value: str, etag: str) -> bool:
    """If-None-Match (section 13.1.2): "*", or one of the tags by weak comparison."""
    if value.strip() == "*":
        return True
    ours = etag.removeprefix("W/")
    return any(tag.removeprefix("W/") == ours for tag in entity_tags(value))


def precondition_failed(fields: dict[str, str], info: FileInfo) -> bool:
    """Steps 1 and 2 of RFC 9110 section 13.2.2 over ``conditions``: If-Match, or when
    it is absent If-Unmodified-Since; true means answer 412 (section 15.5.13)."""
    if_match = fields.get("if-match")
    if if_match is not None:
        return not strong_match(if_match, info.etag)
    since = fields.get("if-unmodified-since")
    when = parse_http_date(since) if since is not None else None
    # Last-Modified has whole seconds, so compare whole seconds.
    return when is not None and int(info.mtime) > when


def not_modified(fields: dict[str, str], info: FileInfo) -> bool:
    """Steps 3 and 4 of RFC 9110 section 13.2.2 over ``conditions``: If-None-Match, or
    when it is absent If-Modified-Since (ignored unless one valid date, section 13.1.3);
    true means 304."""
    if_none_match = fields.get("if-none-match")
    if if_none_match is not None:
        return weak_match(if_none_match, info.etag)
    since = fields.get("if-modified-since")
    when = parse_http_date(since) if since is not None else None
    return when is not None and int(info.mtime) <= when


def if_range_allows(head: RequestHead, info: FileInfo) -> bool:
    """Step 5 of RFC 9110 section 13.2.2 (section 13.1.5): honour Range only if If-Range
    (when sent) still matches: an entity-tag by strong comparison, or a date equal to
    Last-Modified."""
    if_range = head.get("If-Range")
    if if_range is None:
        return True
    if_range = if_range.strip()
    if if_range.startswith(('"', "W/")):
        return not if_range.startswith("W/") and if_range == info.etag
    return if_range == info.last_modified


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """Parse a single-range ``Range: bytes=...`` into (first, last) inclusive.

    Returns None when the header should be ignored (RFC 9110 section 14.2: a server MAY
    ignore Range; we ignore multiple ranges and syntax we do not understand) and raises
    HTTPError(416) when the range cannot be satisfied (section 15.5.17).
    """
    match = RANGE.fullmatch(header.strip())
    if match is None or (not match[1] and not match[2]):
        return None
    if not match[1]:  # "bytes=-N": the last N bytes
        suffix = position(match[2])
        if suffix == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(0, size - suffix), size - 1
    first = position(match[1])
    # A last position past the end means "to the end" (section 14.1.1), however many
    # digits it has. (nginx answers 416 to a number that overflows its integers.)
    last = position(match[2]) if match[2] else size - 1
    if match[2] and last < first:
        return None  # invalid syntax (section 14.1.1): ignore the header
    if first >= size:
        raise _unsatisfiable(size)
    return first, min(last, size - 1)


def position(digits: str) -> int:
    """A byte position from its decimal digits; one too long to be in any file is
    ``BEYOND_ANY_FILE``, without converting it."""
    digits = digits.lstrip("0")
    return int(digits or "0") if len(digits) <= MAX_POSITION_DIGITS else BEYOND_ANY_FILE


def _unsatisfiable(size: int) -> HTTPError:
    return HTTPError(416, f"the range asked for is outside the file's {size} bytes",
                     close=False, headers=(("Content-Range", f"bytes */{size}"),))
