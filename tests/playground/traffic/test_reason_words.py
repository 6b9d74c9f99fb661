"""The words of the counts (review of issue 11, point 3): each not-recorded reason has
one label (runs.REASONS), in clause form, translated once (django.po), sent by the runs
API and the page's data; and the limits the sentence names are both retention bounds,
since the counts do not say which one removed a row."""

import pytest
from django.conf import settings
from django.test import Client
from testkit.playgrounds import REPO

from playground.traffic import runs

pytestmark = pytest.mark.django_db(transaction=True)


def runs_api(client: Client, port: int, *langs: str) -> list[dict]:
    """The runs API of a new sandbox, read in each of ``langs``."""
    response = client.post("/api/sandboxes/", {"name": "words", "port": port},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    url = f"/api/sandboxes/{response.json()['id']}/runs/"
    found = []
    for lang in langs:
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=lang)
        assert response.status_code == 200, response.content
        found.append(response.json())
    return found


def test_every_reason_is_one_japanese_clause(client, free_port, compiled_translations):
    english, japanese = (data["reasons"] for data in runs_api(client, free_port, "en", "ja"))
    assert english == runs.REASONS  # database_error and earlier_version included
    assert set(japanese) == set(runs.REASONS)
    for code, label in japanese.items():
        assert label != english[code], f"{code} is not translated"
        # "<reason>ため N 件": a clause, not a sentence of its own ("…しました。").
        assert not label.endswith(("。", "ました", "でした", "です", "ません")), (code, label)
    # The run-end sentence is a separate msgid (a full sentence), never a reason label.
    assert runs.PROCESS_ENDED not in runs.REASONS.values()


def test_the_reason_words_have_one_source():
    """counts.js shows the server's words (one translation, in django.po): neither it
    nor djangojs.po holds a second copy that could drift."""
    script = (REPO / "static/playground/js/counts.js").read_text()
    catalog = (REPO / "locale/ja/LC_MESSAGES/djangojs.po").read_text()
    for label in runs.REASONS.values():
        assert label not in script
        assert f'msgid "{label}"' not in catalog


def test_the_limits_named_are_both_bounds(client, free_port):
    [data] = runs_api(client, free_port, "en")
    assert data["retention"] == {
        "exchanges": settings.PLAYGROUND_RETENTION_EXCHANGES,
        "bytes": settings.PLAYGROUND_RETENTION_BYTES,
        "owner": {"exchanges": settings.PLAYGROUND_OWNER_RETENTION_EXCHANGES,
                  "bytes": settings.PLAYGROUND_OWNER_RETENTION_BYTES}}
