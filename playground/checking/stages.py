"""The stages: the one list (docs/checks.md). Stages 1-6 follow the tutorial
(checks_early.py), 7-12 carry on where it stops (checks_late.py). Adding a stage is one
entry here, its checks, and their tests. Each stage's title and summary are msgids (the
site translates them); ``rfc`` names the sections it rests on.
"""

from __future__ import annotations

from playground.refusals import gettext_noop

from . import checks_early, checks_late
from .context import Stage

RFC9110 = "https://www.rfc-editor.org/rfc/rfc9110#section-"
RFC9112 = "https://www.rfc-editor.org/rfc/rfc9112#section-"


def _rfc(*sections: str) -> tuple[tuple[str, str], ...]:
    """Each "9112:2.1" as a (label, URL) pair: ("RFC 9112 §2.1", ".../rfc9112#section-2.1")."""
    out = []
    for section in sections:
        rfc, number = section.split(":")
        base = RFC9110 if rfc == "9110" else RFC9112
        out.append((f"RFC {rfc} §{number}", base + number))
    return tuple(out)


STAGES: tuple[Stage, ...] = (
    Stage(1, "reads-request", gettext_noop("Reads the whole request"), gettext_noop(
        "Accepts a connection and reads the whole request, even when it arrives in "
        "several pieces and is longer than one recv(4096)."),
        _rfc("9112:2.1", "9112:2.2"), checks_early.STAGE_1),
    Stage(2, "valid-head", gettext_noop("A valid response head"), gettext_noop(
        "Answers with a valid status line, header lines ending in CRLF, and an empty "
        "line."), _rfc("9112:4", "9112:5", "9112:2.1"), checks_early.STAGE_2),
    Stage(3, "content-length", gettext_noop("Content-Length in bytes"), gettext_noop(
        "The body is exactly as long as its Content-Length says, counted in bytes."),
        _rfc("9110:8.6", "9112:6.3"), checks_early.STAGE_3),
    Stage(4, "repeats", gettext_noop("Request after request"), gettext_noop(
        "Answers request after request on new connections, without a restart."),
        _rfc("9112:9", "9112:9.6"), checks_early.STAGE_4),
    Stage(5, "files", gettext_noop("Files by path, 404 for a missing one"), gettext_noop(
        "Serves a file from its folder by the request's path, and 404 Not Found for a "
        "file that does not exist."), _rfc("9110:7.1", "9110:15.5.5"),
        checks_early.STAGE_5),
    Stage(6, "content-type", gettext_noop("The right Content-Type"), gettext_noop(
        "Labels .html, .css, .png and .js files with the right Content-Type."),
        _rfc("9110:8.3"), checks_early.STAGE_6),
    Stage(7, "head", gettext_noop("HEAD: the same head, no body"), gettext_noop(
        "Answers HEAD with the head a GET would get, and no body."),
        _rfc("9110:9.3.2"), checks_late.STAGE_7),
    Stage(8, "keep-alive", gettext_noop("Keep-alive"), gettext_noop(
        "Answers two requests sent on one connection."), _rfc("9112:9.3"),
        checks_late.STAGE_8),
    Stage(9, "concurrency", gettext_noop("A slow client blocks no one"), gettext_noop(
        "While one client sends its request slowly, another one is answered."),
        _rfc("9112:9.5"), checks_late.STAGE_9),
    Stage(10, "bad-request", gettext_noop("400 for a malformed request"), gettext_noop(
        "Answers 400 Bad Request to a malformed request, and keeps serving."),
        _rfc("9112:3", "9110:15.5.1"), checks_late.STAGE_10),
    Stage(11, "no-escape", gettext_noop("Never outside its folder"), gettext_noop(
        "Never serves a file from outside its folder, however the path is written."),
        _rfc("9110:17.3"), checks_late.STAGE_11),
    Stage(12, "conditional", gettext_noop("Conditional requests"), gettext_noop(
        "Answers 304 Not Modified when the request's validator matches."),
        _rfc("9110:13.1.2", "9110:15.4.5"), checks_late.STAGE_12),
)


def stage(number: int) -> Stage:
    return STAGES[number - 1]
