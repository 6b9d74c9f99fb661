"""The playground's own notes on a message: what a learner's bytes get wrong below the
level httplint reads (it is fed fields already split into names and values, so it never
sees line endings, folded lines or a field line without a colon), and what the recording
itself hides. Each is an httplint ``Note`` (one way of showing every note), worded in
English here and translated in locale/ja/LC_MESSAGES/django.po, with the RFC section
it rests on in ``link``."""

from __future__ import annotations

from django.utils.translation import gettext, gettext_noop
from httplint import Note, categories, levels

RFC9112 = "https://www.rfc-editor.org/rfc/rfc9112.html"
RFC9110 = "https://www.rfc-editor.org/rfc/rfc9110.html"


class OwnNote(Note):
    """A note of the playground's: translated by Django's catalog, not httplint's."""

    link = ""

    def _translate(self, message: str) -> str:
        return gettext(message)


class BARE_LF(OwnNote):
    category = categories.GENERAL
    level = levels.BAD
    link = f"{RFC9112}#section-2.2"
    _summary = gettext_noop("%(count)s line(s) of the head end with LF alone, without CR.")
    _text = gettext_noop(
        "HTTP/1.1 ends every line of the head with the two bytes CR LF (`\\r\\n`). A "
        "recipient *may* accept a lone LF, and henaserver does, but many programs do not: "
        "a sender must always write CR LF.")


class OBS_FOLD(OwnNote):
    category = categories.GENERAL
    level = levels.BAD
    link = f"{RFC9112}#section-5.2"
    _summary = gettext_noop("A field value is folded onto the next line.")
    _text = gettext_noop(
        "A line of the head that starts with a space or a tab continues the previous "
        "field's value (obsolete line folding). HTTP/1.1 forbids sending it; a server "
        "may answer 400 or replace the fold with spaces.")


class NO_COLON(OwnNote):
    category = categories.GENERAL
    level = levels.BAD
    link = f"{RFC9112}#section-5"
    _summary = gettext_noop("A line of the head has no colon: %(line)s")
    _text = gettext_noop(
        "Every line after the start line is a field line: a name, a colon, then the "
        "value (`Content-Type: text/html`). A line without a colon is not a field; a "
        "server answers 400 to such a request.")


class START_LINE(OwnNote):
    category = categories.GENERAL
    level = levels.BAD
    link = f"{RFC9112}#section-3"
    _summary = gettext_noop(
        "The first line is not three parts separated by single spaces: %(line)s")
    _text = gettext_noop(
        "A request begins with `METHOD target HTTP/1.1`, a response with `HTTP/1.1 200 "
        "Reason` (the reason may be empty, its space may not be left out). Nothing else "
        "of this message was checked.")


class HEAD_UNFINISHED(OwnNote):
    category = categories.GENERAL
    level = levels.BAD
    link = f"{RFC9112}#section-2.1"
    _summary = gettext_noop("The head never ended: no empty line after the fields.")
    _text = gettext_noop(
        "A head ends with an empty line (`\\r\\n\\r\\n` after the last field). Without "
        "it the other side keeps waiting for more fields; nothing else was checked.")


class CLOSE_DELIMITED(OwnNote):
    category = categories.CONNECTION
    level = levels.WARN
    link = f"{RFC9112}#section-6.3"
    _summary = gettext_noop("The body has no length: it ends only when the connection closes.")
    _text = gettext_noop(
        "Without Content-Length or Transfer-Encoding: chunked, the client can only tell "
        "where the body ends when the server closes the connection. Then the connection "
        "cannot be kept alive, and a connection cut short looks like a complete answer. "
        "Send Content-Length with the body's size in bytes.")


class RECORDING_CUT(OwnNote):
    category = categories.GENERAL
    level = levels.INFO
    link = f"{RFC9110}#field.content-length"
    _summary = gettext_noop(
        "The playground recorded only the first %(recorded)s bytes of this body: its "
        "Content-Length was not checked.")
    _text = gettext_noop(
        "Bodies are recorded up to a limit. The notes about the body only see what was "
        "recorded.")


class CHUNKS_UNREADABLE(OwnNote):
    category = categories.GENERAL
    level = levels.BAD
    link = f"{RFC9112}#section-7.1"
    _summary = gettext_noop("The chunked body is not well formed (or was cut short).")
    _text = gettext_noop(
        "A chunked body is a series of chunks, each its size in hexadecimal, CR LF, the "
        "bytes, CR LF, and it ends with a chunk of size 0 and an empty line.")


class LINT_FAILED(OwnNote):
    category = categories.GENERAL
    level = levels.INFO
    link = f"{RFC9110}"
    _summary = gettext_noop("These bytes could not be checked (the checker failed on them).")
    _text = gettext_noop(
        "The playground's log has the details. The bytes themselves are shown as they "
        "were recorded.")


class BOTH_LENGTHS(OwnNote):
    """httplint 2026.10.4 says this only when Transfer-Encoding comes first."""

    category = categories.GENERAL
    level = levels.BAD
    link = f"{RFC9112}#section-6.1"
    _summary = gettext_noop("Content-Length and Transfer-Encoding are both sent.")
    _text = gettext_noop(
        "A sender must not send Content-Length in a message that has Transfer-Encoding: "
        "the two disagree on where the body ends, and a recipient must ignore "
        "Content-Length. Requests like this are how request smuggling works.")
