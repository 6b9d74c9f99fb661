"""What a learner's own server did wrong, as the capture relay names it (docs/events.md,
``exchange.mistake``; henaserver/responses.py MISTAKES): the one list of names, with the
short label the traffic list shows. The longer explanation and the RFC section live in
static/playground/data/glossary.json (``mistakes``), with the other explanations of
the detail view; a test keeps the three lists equal.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext, gettext_noop

# name -> label (msgid), in the page's initial data like outcomes.labels()
MISTAKES: dict[str, str] = {
    "closed_without_response": gettext_noop("closed without answering"),
    "no_status_line": gettext_noop("no status line"),
    "body_too_short": gettext_noop("body shorter than announced"),
    "body_too_long": gettext_noop("body longer than announced"),
    "never_answered": gettext_noop("never answered"),
    "bare_lf": gettext_noop("LF without CR"),
    "not_listening": gettext_noop("nothing listening"),
    "not_accepting": gettext_noop("connection not accepted"),
    "no_length_never_closed": gettext_noop("no length, never closed"),
}

# A name this list does not know yet (a newer relay) is kept as it came, if it is one.
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


def clean(value: object) -> str:
    """The event's ``mistake`` as stored: a name, or "" (null, or not a name)."""
    return value if isinstance(value, str) and _NAME.fullmatch(value) else ""


def labels() -> dict[str, str]:
    """Each mistake's label in the active language."""
    return {name: gettext(label) for name, label in MISTAKES.items()}
