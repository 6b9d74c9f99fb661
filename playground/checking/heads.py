"""The grammar of a response head, checked byte by byte (RFC 9112 §2.1, §4, §5).

``scan_head`` reads a response's first bytes leniently, line by line, and notes every
rule a line breaks, with the offset of the first byte that breaks it: the checks then
say *which* byte was wrong (a bare LF, a space before a colon), not only that the head
was. Lines are split on LF so that a head written with "\\n" alone is still read (and
its first bare LF pointed at): that is the commonest mistake of a hand-made server.
"""

from __future__ import annotations

from dataclasses import dataclass

from playground.refusals import Message, Phrase, gettext_noop

# A head longer than this without its empty line is judged as it is.
MAX_HEAD = 64 * 1024
# RFC 9110 §5.6.2: the characters of a token (a field name).
TCHAR = frozenset(b"!#$%&'*+-.^_`|~0123456789"
                  b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
DIGITS = frozenset(b"0123456789")

NOTHING = gettext_noop("The server sent nothing: no status line.")
BARE_LF = gettext_noop("This line ends with LF alone (\\n): HTTP wants CR LF (\\r\\n).")
LONE_CR = gettext_noop("A CR (\\r) that no LF (\\n) follows.")
BAD_STATUS = gettext_noop("The status line is not \"HTTP/1.1 CODE REASON\": byte %(offset)s "
                          "should be %(expected)s.")
FOLDED = gettext_noop("A header line starts with a space: line folding is obsolete and "
                      "no server may send it.")
NO_COLON = gettext_noop("This header line has no colon: is it the body, sent without the "
                        "empty line that ends the head?")
BAD_NAME = gettext_noop("A header name may not contain this byte (byte %(offset)s); the "
                        "colon must follow the name directly.")
BAD_VALUE = gettext_noop("A control character in a header value (byte %(offset)s).")
DIGIT = Phrase(gettext_noop("a digit"))
SPACE = Phrase(gettext_noop("a space"))
REASON_SPACE = Phrase(gettext_noop("a space (before the reason phrase)"))
TEXT = Phrase(gettext_noop("text (no control characters)"))
NO_END = gettext_noop("The head never ended: no empty line (\\r\\n\\r\\n) after the header "
                      "lines.")


@dataclass(frozen=True)
class Problem:
    """One broken rule. ``part``: "status-line", "header" or "end" (the empty line).
    ``readable``: a recipient may still read past it, as browsers do (a bare LF: RFC 9112
    §2.2 lets a recipient take a single LF for a line's end). Only stage 2 judges such a
    problem; the other stages read the head as a browser would, and judge their own point."""

    part: str
    offset: int
    message: Message
    expected: str
    hint: str = ""
    readable: bool = False


@dataclass(frozen=True)
class Head:
    """A scanned head. ``end`` is the offset of the body's first byte (the length of
    the head with its empty line); ``complete`` is False when the empty line never
    came (then ``end`` is the length of what was scanned)."""

    status_line: bytes
    version: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    header_offsets: tuple[int, ...]
    end: int
    complete: bool
    problems: tuple[Problem, ...]

    def header(self, name: str) -> str | None:
        """The first field named ``name`` (any case), or None."""
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def problems_in(self, part: str) -> list[Problem]:
        return [p for p in self.problems if p.part == part]


def head_length(buffer: bytes) -> int | None:
    """Where the head in ``buffer`` ends (after its empty line, CRLF or bare LF), or
    None while it has not ended yet."""
    start = 0
    while True:
        lf = buffer.find(b"\n", start)
        if lf < 0:
            return None
        line = buffer[start:lf]
        if start > 0 and line in (b"", b"\r"):
            return lf + 1
        start = lf + 1


def scan_head(buffer: bytes) -> Head:
    """Scan the head at the start of ``buffer``: up to its empty line if there is one,
    else all of it (the caller saw the connection end, or gave up waiting)."""
    end = head_length(buffer)
    complete = end is not None
    text = buffer[:end] if end is not None else buffer[:MAX_HEAD]
    problems: list[Problem] = []
    if not text:
        problems.append(Problem("status-line", 0, Message(NOTHING), "HTTP/1.1 200 OK\\r\\n"))
        return Head(b"", "", 0, "", (), (), 0, False, tuple(problems))
    lines = _lines(text)
    status_line, version, status, reason = b"", "", 0, ""
    headers: list[tuple[str, str]] = []
    offsets: list[int] = []
    for number, (offset, content, ending) in enumerate(lines):
        is_last_empty = complete and number == len(lines) - 1
        part = "status-line" if number == 0 else "end" if is_last_empty else "header"
        problem = _ending_problem(part, offset, content, ending)
        if number == 0:
            status_line = content
            found = _status_problem(offset, content)
            version, status, reason = _status_fields(content)
        elif is_last_empty:
            found = None
        else:
            found = _header_problem(offset, content)
            if found is None:
                name, _, value = content.partition(b":")
                headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
                offsets.append(offset)
        first = min((p for p in (found, problem) if p), key=lambda p: p.offset, default=None)
        if first:
            problems.append(first)
    if not complete:
        problems.append(Problem("end", len(text), Message(NO_END), "\\r\\n\\r\\n",
                                hint="no-empty-line"))
    return Head(status_line, version, status, reason, tuple(headers), tuple(offsets),
                end if end is not None else len(text), complete, tuple(problems))


def _lines(text: bytes) -> list[tuple[int, bytes, bytes]]:
    """(offset, content, ending) per line; ending is b"\\r\\n", b"\\n" or b"" (the
    text stopped)."""
    out = []
    start = 0
    while start < len(text):
        lf = text.find(b"\n", start)
        if lf < 0:
            out.append((start, text[start:], b""))
            break
        if lf > start and text[lf - 1] == 0x0D:
            out.append((start, text[start:lf - 1], b"\r\n"))
        else:
            out.append((start, text[start:lf], b"\n"))
        start = lf + 1
    return out


def _ending_problem(part: str, offset: int, content: bytes, ending: bytes) -> Problem | None:
    cr = content.find(b"\r")
    if cr >= 0:
        return Problem(part, offset + cr, Message(LONE_CR), "\\r\\n")
    if ending == b"\n":
        return Problem(part, offset + len(content), Message(BARE_LF), "\\r\\n",
                       hint="bare-lf", readable=True)
    return None


def _status_problem(offset: int, line: bytes) -> Problem | None:
    """The first byte of ``line`` that the status-line grammar refuses:
    HTTP-version SP 3DIGIT SP reason-phrase (RFC 9112 §4)."""
    grammar: list[tuple[bytes | frozenset[int], str]] = [
        (b"H", '"H"'), (b"T", '"T"'), (b"T", '"T"'), (b"P", '"P"'), (b"/", '"/"'),
        (DIGITS, DIGIT), (b".", '"."'), (DIGITS, DIGIT), (b" ", SPACE),
        (DIGITS, DIGIT), (DIGITS, DIGIT), (DIGITS, DIGIT), (b" ", REASON_SPACE)]
    for index, (allowed, expected) in enumerate(grammar):
        byte = line[index] if index < len(line) else None
        if byte is None or byte not in allowed:
            at = offset + index
            return Problem("status-line", at, Message(BAD_STATUS, offset=at,
                                                      expected=expected),
                           "HTTP/1.1 200 OK\\r\\n")
    for index in range(len(grammar), len(line)):
        if line[index] < 0x20 and line[index] != 0x09 or line[index] == 0x7F:
            at = offset + index
            return Problem("status-line", at, Message(BAD_STATUS, offset=at,
                                                      expected=TEXT),
                           "HTTP/1.1 200 OK\\r\\n")
    return None


def _status_fields(line: bytes) -> tuple[str, int, str]:
    version, _, rest = line.partition(b" ")
    code, _, reason = rest.partition(b" ")
    status = int(code) if len(code) == 3 and code.isdigit() else 0
    return version.decode("latin-1"), status, reason.decode("latin-1")


def _header_problem(offset: int, line: bytes) -> Problem | None:
    expected = "Name: value\\r\\n"
    if line[:1] in (b" ", b"\t"):
        return Problem("header", offset, Message(FOLDED), expected)
    colon = line.find(b":")
    if colon < 0:
        return Problem("header", offset, Message(NO_COLON), expected, hint="no-empty-line")
    for index in range(colon):
        if line[index] not in TCHAR:
            return Problem("header", offset + index,
                           Message(BAD_NAME, offset=offset + index), expected)
    if colon == 0:
        return Problem("header", offset, Message(BAD_NAME, offset=offset), expected)
    for index in range(colon + 1, len(line)):
        byte = line[index]
        if (byte < 0x20 and byte != 0x09) or byte == 0x7F:
            return Problem("header", offset + index,
                           Message(BAD_VALUE, offset=offset + index), expected)
    return None
