"""Messages for people raised by modules that stay Django-free (safepaths, sitefiles,
ports, composer, supervisor). No Django here.

Such a module raises a ``Refusal`` with an English *template* (``%(name)s``
placeholders) and its parameters: ``str(exc)`` is the English text (tests, logs), and
the Django layer (errors.py, sandboxes.py...) shows ``exc.translate(gettext)`` in the
request's language (docs/i18n.md). Templates are marked with ``gettext_noop`` so that
``makemessages`` extracts them into the catalog.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def gettext_noop(message: str) -> str:
    """Mark ``message`` as a msgid for makemessages; it is translated where shown."""
    return message


BYTES = gettext_noop("%(count)s bytes")


def human_bytes(n: int, gettext: Callable[[str], str] | None = None) -> str:
    """1536 -> '1.5 KB' (messages for people, not exact counts); below 1 KB, '%(count)s
    bytes' in the language of ``gettext`` (English without it)."""
    if n < 1024:
        return (gettext(BYTES) if gettext else BYTES) % {"count": int(n)}
    value = float(n)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1024 or unit == "GB":
            break
    return f"{value:.1f} {unit}".replace(".0 ", " ")


class Size(int):
    """A size parameter: shown like human_bytes, in the message's language."""

    def __str__(self) -> str:
        return human_bytes(self)


class Phrase(str):
    """A parameter that is itself a msgid (e.g. which limit was hit): translated too."""


class Refusal(Exception):
    """An English message template and its parameters."""

    def __init__(self, template: str, **params: Any) -> None:
        self.template = template
        self.params = params
        super().__init__(template % params)

    def translate(self, gettext: Callable[[str], str]) -> str:
        """The message in the language of ``gettext`` (parameters that are Phrases or
        Refusals are translated as well)."""
        params = {}
        for name, value in self.params.items():
            if isinstance(value, Refusal):
                value = value.translate(gettext)
            elif isinstance(value, Phrase):
                value = gettext(value)
            elif isinstance(value, Size):
                value = human_bytes(value, gettext)
            params[name] = value
        return gettext(self.template) % params
