"""The live traffic page: a shell that traffic.js fills from the websocket
(consumer.py) and the traffic API (api.py)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext
from django.views.decorators.csrf import ensure_csrf_cookie

from ..classes import watching
from ..compose import composer, presets
from ..sandboxes.modes import MODE_INFO
from ..sandboxes.ownership import page_sandbox
from ..sandboxes.presenters import sandbox_url, to_json
from . import mistakes, outcomes, runs

# The list holds a sandbox's whole retained history (only the rows on screen are in the
# DOM: list-view.js scrolls virtually), up to this many summaries (~0.5 KB each in the
# browser) when a larger retention is configured; older ones stay in the API.
LIST_ROWS_MAX = 20_000


def list_rows() -> int:
    """How many exchange summaries the traffic page's list keeps (data-dom-rows)."""
    return max(1, min(settings.PLAYGROUND_RETENTION_EXCHANGES, LIST_ROWS_MAX))


@ensure_csrf_cookie
def traffic_page(request: HttpRequest, sandbox_id: int) -> HttpResponse:
    """The live traffic page: a shell; traffic.js fills it from the websocket."""
    sandbox = page_sandbox(request, sandbox_id)
    return render(request, "playground/traffic.html", {
        "sandbox": sandbox,
        "initial": to_json(request, sandbox),
        "dom_rows": list_rows(),
        "composer": composer_data(request, sandbox),
        "outcomes": outcomes.labels(),
        "mistakes": mistakes.labels(),
        "runs": runs_data(),
        "read_only": watching.look(request, sandbox),  # a teacher's look: the banner
    })


def runs_data() -> dict:
    """What runs.js needs before the runs API answers: each mode's label in the page's
    language (a run's divider names its mode), the retention limits and the words for
    each not-recorded reason (the sentence that adds up names them)."""
    return {"modes": {mode: gettext(label) for mode, (label, _notice) in MODE_INFO.items()},
            "retention": retention_limits(), "reasons": reason_labels()}


def retention_limits() -> dict:
    """Both bounds retention keeps (traffic/retention.py): per sandbox, and across all
    of one owner's sandboxes. Rows are removed when either is reached, and the counts
    do not say which one it was, so the page's sentence names both."""
    return {"exchanges": settings.PLAYGROUND_RETENTION_EXCHANGES,
            "bytes": settings.PLAYGROUND_RETENTION_BYTES,
            "owner": {"exchanges": settings.PLAYGROUND_OWNER_RETENTION_EXCHANGES,
                      "bytes": settings.PLAYGROUND_OWNER_RETENTION_BYTES}}


def reason_labels() -> dict[str, str]:
    """Each not-recorded reason code (runs.REASONS) worded in the active language: the
    page's only source of these words, each a clause for "N because <reason>"."""
    return {code: gettext(label) for code, label in runs.REASONS.items()}


def composer_data(request: HttpRequest, sandbox) -> dict:
    """The composer's templates, with the sandbox's real host:port in Host."""
    host = urlsplit(sandbox_url(request, sandbox)).netloc
    return {"host": host, "templates": presets.request_templates(host),
            "max_pieces": composer.MAX_PIECES, "max_slow_ms": composer.MAX_SLOW_SECONDS * 1000}
