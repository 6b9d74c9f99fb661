"""The classic mistakes, named when the bytes show them (docs/checks.md).

Each hint has a key (also the key of its glossary entry,
static/playground/data/glossary.json), a sentence (a msgid, translated where shown) and
the RFC section it rests on. A Failure names its hint by key.
"""

from __future__ import annotations

from dataclasses import dataclass

from playground.refusals import gettext_noop

RFC9110 = "https://www.rfc-editor.org/rfc/rfc9110"
RFC9112 = "https://www.rfc-editor.org/rfc/rfc9112"


@dataclass(frozen=True)
class Hint:
    key: str
    text: str                 # msgid
    rfc: tuple[str, str]      # (label, URL)

    @property
    def glossary(self) -> str:
        """The glossary entry that explains it: the same key."""
        return self.key


HINTS: dict[str, Hint] = {hint.key: hint for hint in (
    Hint("bare-lf", gettext_noop(
        "LF instead of CRLF: every line of the head must end with \\r\\n; this one ends "
        "with \\n alone."), ("RFC 9112 §2.1", f"{RFC9112}#section-2.1")),
    Hint("no-empty-line", gettext_noop(
        "No empty line after the head: the header lines must be followed by one empty "
        "line (\\r\\n) before the body begins."), ("RFC 9112 §2.1", f"{RFC9112}#section-2.1")),
    Hint("length-in-characters", gettext_noop(
        "Content-Length counted in characters: it must count the bytes of the body, and a "
        "Japanese character takes 3 bytes in UTF-8. Encode first, then take len()."),
        ("RFC 9110 §8.6", f"{RFC9110}#section-8.6")),
    Hint("one-recv", gettext_noop(
        "One recv(4096) for the whole request: a request can be longer and can arrive in "
        "pieces. Read until the empty line that ends the head (\\r\\n\\r\\n)."),
        ("RFC 9112 §2.2", f"{RFC9112}#section-2.2")),
    Hint("no-loop", gettext_noop(
        "No loop: after the first answer nothing listens any more. Put accept() and the "
        "answer inside \"while True\"."), ("RFC 9112 §9", f"{RFC9112}#section-9")),
    Hint("never-closes", gettext_noop(
        "The connection never closes: without Content-Length the body ends only when the "
        "server closes the socket. Send Content-Length, or close the socket (in every "
        "thread) when the answer is sent."), ("RFC 9112 §6.3", f"{RFC9112}#section-6.3")),
)}


def hint(key: str) -> Hint | None:
    """The hint named ``key``, or None ("" names none)."""
    return HINTS.get(key)
