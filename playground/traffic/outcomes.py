"""How an exchange ended: the one list of outcome names, with what the page calls them.

The names are henaserver's (docs/events.md, ``exchange.outcome``); the traffic page gets
this table with its labels in the viewer's language (``labels()``, in the page's initial
data), so neither the filter nor the detail view keeps a list of its own.
"""

from __future__ import annotations

from django.utils.translation import gettext, gettext_noop

COMPLETE = "complete"
# name -> label (msgid; empty for the ordinary case, which needs no word)
OUTCOMES: dict[str, str] = {
    COMPLETE: "",
    "rejected": gettext_noop("rejected"),
    "timed_out": gettext_noop("timed out"),
    "client_closed": gettext_noop("closed by the client"),
    "no_response": gettext_noop("no response (record-only)"),
    # From the capture relay: the learner's server closed before its answer was whole.
    "server_closed": gettext_noop("closed by the server"),
}


def labels() -> dict[str, str]:
    """Each outcome's label in the active language."""
    return {name: gettext(label) if label else "" for name, label in OUTCOMES.items()}
