"""Messages for people, as data: an English template (a msgid) and its parameters.

Modules that stay Django-free (safepaths, sitefiles, ports, composer, supervisor) and the
domain modules alike describe what happened with a ``Message`` or raise a ``Refusal``;
the text is made in the language of whoever reads it, where it is shown
(``translate(gettext)``; docs/i18n.md). ``str()`` is the English text (tests, logs).
Templates are marked with ``gettext_noop`` so that ``makemessages`` extracts them.

A message kept on a database row is kept as data too (``to_json`` / ``from_json``), never
as finished English that would have to be parsed back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Gettext = Callable[[str], str]


def gettext_noop(message: str) -> str:
    """Mark ``message`` as a msgid for makemessages; it is translated where shown."""
    return message


BYTES = gettext_noop("%(count)s bytes")


def human_bytes(n: int, gettext: Gettext | None = None) -> str:
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


def _english(value: Any) -> str:
    return gettext_noop(value) if isinstance(value, Phrase) else str(value)


class Message:
    """An English template and its parameters. A parameter may itself be a Message (or
    a Phrase, or a Size): it is translated along with the template."""

    __slots__ = ("template", "params")

    def __init__(self, template: str, **params: Any) -> None:
        self.template = template
        self.params = params

    def __str__(self) -> str:
        if not self.params:  # a template without parameters is the text itself
            return self.template
        return self.template % {name: _english(v) for name, v in self.params.items()}

    def __repr__(self) -> str:
        return f"Message({self.template!r}, **{self.params!r})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Message) and self.template == other.template
                and self.params == other.params)

    def __hash__(self) -> int:
        return hash(self.template)

    def translate(self, gettext: Gettext) -> str:
        """The message in the language of ``gettext``."""
        params = {}
        for name, value in self.params.items():
            if isinstance(value, (Message, Refusal)):
                value = value.translate(gettext)
            elif isinstance(value, Phrase):
                value = gettext(value)
            elif isinstance(value, Size):
                value = human_bytes(value, gettext)
            params[name] = value
        # Without parameters the text is used as it is: a "%" in it is no placeholder.
        return gettext(self.template) % params if params else gettext(self.template)

    def to_json(self) -> dict[str, Any]:
        """``{"key": template, "params": {...}}``; nested messages nest. A Phrase is kept
        as a message of its own, so it is still translated when read back."""
        def value_json(value: Any) -> Any:
            if isinstance(value, Refusal):
                value = value.message
            if isinstance(value, Phrase):
                value = Message(str(value))
            return value.to_json() if isinstance(value, Message) else value

        return {"key": self.template,
                "params": {name: value_json(value) for name, value in self.params.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Message:
        params = {name: cls.from_json(value) if isinstance(value, Mapping) else value
                  for name, value in (data.get("params") or {}).items()}
        return cls(str(data.get("key") or ""), **params)


class Refusal(Exception):
    """Something the playground will not do, and why: a Message, and the HTTP status an
    API answers it with (``errors.api`` turns any Refusal into its JSON answer).
    ``json`` holds more keys for that answer (e.g. ``{"field": "port"}``)."""

    status = 400

    def __init__(self, template: str, **params: Any) -> None:
        self.message = Message(template, **params)
        self.json: dict[str, Any] = {}
        super().__init__(str(self.message))

    @property
    def template(self) -> str:
        return self.message.template

    @property
    def params(self) -> dict[str, Any]:
        return self.message.params

    def translate(self, gettext: Gettext) -> str:
        """The message in the language of ``gettext``."""
        return self.message.translate(gettext)

    def answer(self, status: int | None = None, **json: Any) -> Refusal:
        """Set the HTTP status and extra JSON keys of the API answer; returns self, so
        ``raise Refusal(...).answer(409, field="port")`` reads as one sentence."""
        if status is not None:
            self.status = status
        self.json.update(json)
        return self
