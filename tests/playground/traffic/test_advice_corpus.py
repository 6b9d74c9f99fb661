"""Advice on everything the tests know a learner's traffic to hold, from a real
henaserver: every request of the parser's corpus (valid and invalid) and a browser's
visit of the starter site, answered for real. Every note must be worded in Japanese
(httplint's catalog, else ours), point at a rule, and no message may break the linter."""

import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import httplint
import pytest
from httplint.note import Note
from testkit.waiting import wait_until

from playground.models import Exchange
from playground.traffic import advice, advice_api
from playground.traffic.advice_ja import TEXTS
from playground.traffic.ingest import ingestor

pytestmark = pytest.mark.django_db(transaction=True)

CORPUS = Path(__file__).resolve().parents[2] / "henaserver" / "requests"
BROWSER = ("{method} {path} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n"
           "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0\r\nAccept: */*\r\n"
           "Accept-Encoding: gzip, deflate, br\r\n{extra}\r\n")


def _visit(port: int) -> list[bytes]:
    """What a browser sends while looking at the starter site, and the follow-ups it
    makes (revalidation, a range, HEAD, a missing page)."""
    wanted = [("GET", "/", ""), ("GET", "/index.css", ""), ("GET", "/logo.png", ""),
              ("GET", "/index.css", 'If-None-Match: "nope"\r\n'),
              ("GET", "/logo.png", "Range: bytes=0-9\r\n"), ("HEAD", "/", ""),
              ("GET", "/missing", ""), ("POST", "/", "Content-Length: 2\r\n\r\nhi")]
    return [BROWSER.format(method=m, path=p, port=port, extra=e).encode()
            for m, p, e in wanted]


def test_every_note_on_the_corpus_is_worded_in_japanese(client, free_port, raw_send):
    sandbox = client.post("/api/sandboxes/", {"name": "corpus", "port": free_port},
                          content_type="application/json").json()
    starter = client.post(sandbox["links"]["starter"], {}, content_type="application/json")
    assert starter.status_code == 201
    assert client.post(sandbox["links"]["start"]).status_code == 200
    sent = _visit(free_port) + [path.read_bytes() for path in sorted(CORPUS.glob("*/*.http"))]
    for data in sent:
        raw_send(free_port, data)

    def stored():
        assert ingestor().sync()
        return Exchange.objects.filter(sandbox_id=sandbox["id"]).count() >= len(sent) * 0.9

    wait_until(stored, 30, "the corpus's exchanges stored")
    seen: dict[str, str] = {}
    english_only, failed = set(), []
    for row in Exchange.objects.filter(sandbox_id=sandbox["id"]).values("seq", "pk"):
        found = advice_api.advice_of([row["pk"]])[row["pk"]]
        for note in found.request + found.response:
            name = type(note).__name__
            if name == "LINT_FAILED":
                failed.append(row["seq"])
            worded = advice_api.note_json(note, "ja")
            assert worded["link"].startswith("https://"), (name, worded["link"])
            if not worded["translated"]:
                english_only.add(name)
            seen[name] = worded["summary"]
    assert not failed, f"httplint failed on exchanges {failed}"
    assert not english_only, f"notes without Japanese: {sorted(english_only)}"
    # The corpus reaches the notes that matter most to a learner.
    assert {"CL_CORRECT", "BARE_LF", "OBS_FOLD", "STATUS_NOT_FOUND"} <= set(seen), sorted(seen)
    assert advice.cache.get(Exchange.objects.filter(sandbox_id=sandbox["id"]).first().pk)



def _notes(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _notes(sub)


def test_our_japanese_for_httplint_matches_its_english():
    """Each text of advice_ja.py is one of httplint's, word for word: after an upgrade
    that rewords it, ours would never be used."""
    for module in pkgutil.walk_packages(httplint.__path__, "httplint."):
        if ".cli" not in module.name and not module.name.endswith("tests"):
            importlib.import_module(module.name)
    texts = {text for note in _notes(Note) for text in (note._summary, note._text)}
    assert set(TEXTS) <= texts
