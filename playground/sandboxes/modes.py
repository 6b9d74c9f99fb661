"""Sandbox modes and response rules: what the learner chose, what they should notice,
and how it reaches henaserver (``--mode``, ``--fixed-response``, ``--rules``).

The fixed response and the rules are stored on the Sandbox row and written to files in a
per-sandbox directory *beside* the document root, never inside it, so the server can
never be asked to serve them. Every write is atomic (temporary file, then
``os.replace``): henaserver re-reads a file when it changes and must never see half of
one. Rules apply without a restart; a new mode needs one (lifecycle.start passes it).

The explanations below are the ones the page shows; docs/modes.md repeats them (a test
keeps the two in step).
"""

from __future__ import annotations

import base64
import binascii
import json
import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import gettext, gettext_noop

from ..compose import presets
from ..compose.composer import ComposeError, line_endings
from ..files.atomic import write_atomic
from ..models import Sandbox
from ..refusals import Message, Phrase, Refusal
from .exits import ONE_REQUEST_SERVED, ExitInfo
from .pacing import STREAM_PRESETS, parse_pace

FULL, NO_CONTENT_TYPE, ONCE, FIXED, RECORD_ONLY = (
    "full", "no-content-type", "once", "fixed", "record-only")

# mode -> (label, what the learner should notice). Same text in docs/modes.md. Marked
# with gettext_noop and translated where shown, so the English stays comparable.
MODE_INFO: dict[str, tuple[str, str]] = {
    FULL: (gettext_noop("Full server (default)"),
           gettext_noop("The real static file server: every file with its own Content-Type, "
                        "keep-alive, conditional and range requests. The starter page shows a red "
                        "heading and the logo.")),
    RECORD_ONLY: (gettext_noop("Record only"),
                  gettext_noop(
                      "The server reads each request, records it and closes the connection "
                      "without a word, like the tutorial's first step. The browser shows an "
                      "error (“empty response”), but the traffic view shows exactly what it "
                      "sent.")),
    FIXED: (gettext_noop("Fixed response"),
            gettext_noop(
                "Every request, whatever its path, gets the same bytes, sent verbatim. With "
                "Apache's recorded “It works!” reply the browser cannot tell it is not "
                "Apache: HTTP is only bytes.")),
    ONCE: (gettext_noop("One request, then exit"),
           gettext_noop(
               "The server answers one request and exits, like the tutorial's TCPServer. The "
               "page arrives, but the browser's next requests, for the CSS and the image, "
               "find nobody listening: no colour, no logo. The sandbox shows as stopped.")),
    NO_CONTENT_TYPE: (gettext_noop("No Content-Type detection"),
                      gettext_noop(
                          "Every file is sent as text/html. The browser ignores a stylesheet "
                          "that does not arrive as text/css, so the heading loses its red "
                          "colour, and the image request's type is wrong too.")),
}
MODES = tuple(MODE_INFO)

# Bounds on what is stored: a raw response is read into memory by henaserver (which
# refuses files over 1 MiB); 64 KiB is plenty for hand-written responses. Rules are
# tried in order on every request, so keep the list short.
MAX_RAW_RESPONSE_BYTES = 64 * 1024
MAX_RULES = 50
MAX_RULE_PATH = 1024


def config_dir(sandbox: Sandbox) -> Path:
    """The sandbox's private directory for henaserver's files: outside its document
    root (``data/sandboxes/<id>``), so nothing here is ever served."""
    return Path(settings.PLAYGROUND_DATA_DIR) / "sandbox-config" / str(sandbox.pk)


def fixed_path(sandbox: Sandbox) -> Path:
    return config_dir(sandbox) / "fixed_response.http"


def rules_path(sandbox: Sandbox) -> Path:
    return config_dir(sandbox) / "rules.json"


def write_files(sandbox: Sandbox) -> None:
    """Write the fixed response and the rules as henaserver reads them."""
    write_atomic(fixed_path(sandbox), bytes(sandbox.fixed_response or b""))
    # A rule's pace (pacing.py) goes along when it has one: how to send it over time.
    rules = [{"method": r["method"], "path": r["path"], "response_b64": r["response_b64"],
              **{k: r[k] for k in ("send", "delay_ms", "every_ms") if k in r}}
             for r in sandbox.rules or []]
    write_atomic(rules_path(sandbox), json.dumps({"rules": rules}, indent=1).encode())


def henaserver_args(sandbox: Sandbox) -> tuple[str, ...]:
    """The options for this sandbox's mode; writes the files they name first. Rules are
    always passed (an empty list at first) so that later edits apply without a restart."""
    write_files(sandbox)
    args = ["--mode", sandbox.mode, "--rules", str(rules_path(sandbox))]
    if sandbox.mode == FIXED:
        args += ["--fixed-response", str(fixed_path(sandbox))]
    return tuple(args)


def remove_files(sandbox: Sandbox) -> None:
    shutil.rmtree(config_dir(sandbox), ignore_errors=True)


ONCE_FINISHED = gettext_noop(
    "stopped: the “one request, then exit” mode answered one request and exited, like the "
    "tutorial's first server; start it again for another")


def exit_outcome(info: ExitInfo) -> Message | None:
    """The message for a server that exited by itself as its mode intends (then the
    sandbox is *stopped*, not crashed), or None for a real crash. The server says so
    itself: its last event, ``server.stopping``, gives the reason (docs/events.md)."""
    if info.stop_reason == ONE_REQUEST_SERVED and info.returncode == 0:
        return Message(ONCE_FINISHED)
    return None


# ----- reading the learner's input ------------------------------------------------------


def _raw(body: dict[str, Any], text_key: str, b64_key: str, what: Message | Phrase,
         head_only: bool = True) -> bytes | None:
    """Bytes from ``{text_key: "..."}`` (with ``line_endings``) or ``{b64_key: "..."}``."""
    if body.get(b64_key) is not None:
        try:
            data = base64.b64decode(str(body[b64_key]), validate=True)
        except (binascii.Error, ValueError):
            raise Refusal(gettext_noop("%(field)s is not valid base64"),
                          field=b64_key).answer(field=b64_key) from None
    elif body.get(text_key) is not None:
        if not isinstance(body[text_key], str):
            raise Refusal(gettext_noop("%(field)s must be a string"),
                          field=text_key).answer(field=text_key)
        try:
            data = line_endings(body[text_key].encode("utf-8"),
                                body.get("line_endings", "crlf"), head_only)
        except ComposeError as error:
            raise error.answer(field="line_endings") from None
    else:
        return None
    if len(data) > MAX_RAW_RESPONSE_BYTES:
        raise Refusal(gettext_noop("%(what)s is %(size)s bytes; the limit is %(limit)s"),
                      what=what, size=len(data), limit=MAX_RAW_RESPONSE_BYTES).answer(413)
    return data


def parse_mode(body: dict[str, Any], sandbox: Sandbox | None = None) -> dict[str, Any]:
    """``{"mode", "fixed_response" | "fixed_response_b64", "line_endings"}`` checked
    into model fields. The fixed mode without bytes gets Apache's "It works!"."""
    mode = body.get("mode", FULL)
    if mode not in MODES:
        raise Refusal(gettext_noop("unknown mode %(mode)s; choose one of %(choices)s"),
                      mode=repr(mode), choices=", ".join(MODES)).answer(field="mode")
    fields: dict[str, Any] = {"mode": mode}
    data = _raw(body, "fixed_response", "fixed_response_b64",
                Phrase(gettext_noop("the fixed response")))
    if data is not None:
        fields["fixed_response"] = data
    current = bytes(sandbox.fixed_response) if sandbox is not None else b""
    if mode == FIXED and not fields.get("fixed_response", current):
        fields["fixed_response"] = to_bytes(presets.IT_WORKS)
    return fields


def to_bytes(text: str) -> bytes:
    """A preset's text as the server should send it (CRLF in the head)."""
    return line_endings(text.encode("utf-8"), "crlf", head_only=True)


def parse_rules(body: dict[str, Any]) -> list[dict[str, str]]:
    """``{"rules": [{"method", "path", "response" | "response_b64", "send", "delay_ms",
    "every_ms"}], "line_endings"}`` into the stored form ``[{"method", "path",
    "response_b64"}]``, with the pace when it is not "at once" (pacing.parse_pace)."""
    rows = body.get("rules")
    if not isinstance(rows, list):
        raise Refusal(gettext_noop("send %(example)s"),
                      example='{"rules": [...]}').answer(field="rules")
    if len(rows) > MAX_RULES:
        raise Refusal(gettext_noop("at most %(limit)s rules"), limit=MAX_RULES).answer(413)
    rules = []
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise Refusal(gettext_noop("rule %(number)s is not an object"),
                          number=number).answer(field="rules")
        method = str(row.get("method") or "*").strip().upper()
        path = str(row.get("path") or "*").strip()
        if method != "*" and not method.isalpha():
            raise Refusal(gettext_noop("rule %(number)s: the method must be letters or *"),
                          number=number)
        if path != "*" and (not path.startswith("/") or len(path) > MAX_RULE_PATH
                            or any(c.isspace() for c in path)):
            raise Refusal(gettext_noop("rule %(number)s: the path must start with / (no "
                                       "spaces), or be *"), number=number)
        merged = {**row, "line_endings": body.get("line_endings", "crlf")}
        data = _raw(merged, "response", "response_b64",
                    Message(gettext_noop("rule %(number)s's response"), number=number))
        if not data:
            raise Refusal(gettext_noop("rule %(number)s has no response"), number=number)
        rules.append({"method": method, "path": path,
                      "response_b64": base64.b64encode(data).decode("ascii"),
                      **parse_pace(row, number, data)})
    return rules


def rules_json(sandbox: Sandbox) -> list[dict[str, Any]]:
    """The stored rules with their text too (null when the bytes are not UTF-8)."""
    result = []
    for rule in sandbox.rules or []:
        data = base64.b64decode(rule["response_b64"])
        try:
            text: str | None = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        result.append({**rule, "response": text})
    return result


def to_json(sandbox: Sandbox) -> dict[str, Any]:
    """The mode part of the API: the mode, the fixed response (bytes and text), rules."""
    data = bytes(sandbox.fixed_response or b"")
    try:
        text: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    label, notice = MODE_INFO.get(sandbox.mode, (sandbox.mode, ""))
    return {"mode": sandbox.mode, "label": gettext(label),
            "notice": gettext(notice) if notice else "",
            "fixed_response_b64": base64.b64encode(data).decode("ascii"),
            "fixed_response": text, "rules": rules_json(sandbox)}


def page_data() -> dict[str, Any]:
    """What the mode and rules editors need: modes with their notes, presets."""
    return {
        "modes": [{"id": key, "label": gettext(label), "notice": gettext(notice)}
                  for key, (label, notice) in MODE_INFO.items()],
        "response_presets": presets.RESPONSE_PRESETS,
        "rule_presets": {**presets.RULE_PRESETS, **STREAM_PRESETS},
    }


def save(sandbox: Sandbox, fields: dict[str, Any]) -> None:
    """Store mode fields (from parse_mode) or ``{"rules": ...}`` and rewrite the files."""
    for name, value in fields.items():
        setattr(sandbox, name, value)
    sandbox.save(update_fields=list(fields))
    write_files(sandbox)
