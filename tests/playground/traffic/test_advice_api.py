"""The advice API (traffic/advice_api.py) on a real henaserver's traffic: the notes of one
exchange in English and Japanese with their RFC links, the list's counts, the cache,
and clear refusals."""

import pytest
from testkit import recorded
from testkit.waiting import wait_until

from playground.models import Exchange
from playground.traffic import advice
from playground.traffic.ingest import ingestor

pytestmark = pytest.mark.django_db(transaction=True)

# A canned answer of the tutorial's kind: Content-Length 5 and 7 bytes, no Date.
WRONG = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello!!"
REQUEST = b"GET /wrong HTTP/1.1\r\nHost: x\r\nUser-Agent: test\r\nConnection: close\r\n\r\n"


def _sandbox_with_traffic(client, port: int, raw_send, count: int = 1) -> dict:
    sandbox = client.post("/api/sandboxes/", {"name": "t", "port": port},
                          content_type="application/json").json()
    assert client.post(sandbox["links"]["start"]).status_code == 200
    rules = [{"method": "GET", "path": "/wrong", "response": WRONG}]
    assert client.put(sandbox["links"]["rules"], {"rules": rules},
                      content_type="application/json").status_code == 200
    for _ in range(count):
        raw_send(port, REQUEST)
    recorded.stored(client, sandbox, count)
    return sandbox


def _by_id(notes: list[dict]) -> dict[str, dict]:
    return {note["id"]: note for note in notes}


@pytest.mark.parametrize("language, incorrect, own_words", [
    ("en", "The Content-Length header is incorrect.", "The body has no length"),
    ("ja", "Content-Length ヘッダーが正しくありません。", "ボディ"),
])
def test_the_notes_of_one_exchange_in_the_viewers_language(
        client, free_port, raw_send, language, incorrect, own_words):
    sandbox = _sandbox_with_traffic(client, free_port, raw_send)
    client.cookies["django_language"] = language
    data = client.get(sandbox["links"]["exchanges"] + "1/advice/").json()
    response = _by_id(data["response"])
    wrong = response["CL_INCORRECT"]
    assert wrong["level"] == "bad" and wrong["summary"] == incorrect
    assert wrong["link"] == "https://www.rfc-editor.org/rfc/rfc9110.html#field.content-length"
    assert wrong["source"] == "httplint" and wrong["translated"] is True
    assert "7" in wrong["detail"] and "<script" not in wrong["detail"]
    assert response["DATE_CLOCKLESS"]["link"].endswith("#field.date")
    # Worst first; the counts add up.
    levels = [note["level"] for note in data["response"]]
    assert levels == sorted(levels, key=advice.LEVELS.index)
    assert sum(data["counts"].values()) == len(data["request"]) + len(data["response"])
    assert data["library"].startswith("httplint ")
    # A body with no length (rules.json's answer for another path): our own note.
    client.put(sandbox["links"]["rules"], {"rules": [{"method": "*", "path": "*", "response":
               "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhi"}]},
               content_type="application/json")
    raw_send(free_port, REQUEST)
    wait_until(lambda: ingestor().sync() and Exchange.objects.filter(seq=2).exists(), 10,
               "the second exchange")
    second = _by_id(client.get(sandbox["links"]["exchanges"] + "2/advice/").json()["response"])
    mine = second["CLOSE_DELIMITED"]
    assert own_words in mine["summary"] and mine["source"] == "playground"
    assert mine["link"] == "https://www.rfc-editor.org/rfc/rfc9112.html#section-6.3"


def test_counts_for_the_rows_of_the_list_are_linted_once(client, free_port, raw_send):
    sandbox = _sandbox_with_traffic(client, free_port, raw_send, count=3)
    url = sandbox["links"]["exchanges"] + "advice/"
    counts = client.get(url + "?seqs=1,2,3,99").json()["advice"]
    assert set(counts) == {"1", "2", "3"}  # 99 is not stored: left out
    assert counts["1"]["bad"] >= 1 and counts["1"]["warning"] >= 1
    row = Exchange.objects.get(sandbox_id=sandbox["id"], seq=2)
    cached = advice.cache.get(row.pk)
    assert cached is not None and cached.counts() == counts["2"]
    # Asked again: the same advice object, not linted anew.
    client.get(url + "?seqs=2")
    assert advice.cache.get(row.pk) is cached


@pytest.mark.parametrize("query, words", [
    ("", "seqs must list"), ("?seqs=", "seqs must list"), ("?seqs=1,x", "seqs must list"),
    ("?seqs=%C2%B2", "seqs must list"),  # "²" is a digit to str.isdigit(): was a 500
    ("?seqs=" + ",".join(str(n) for n in range(1, 62)), "at most 60"),
])
def test_bad_questions_get_400_with_a_reason(client, free_port, raw_send, query, words):
    sandbox = _sandbox_with_traffic(client, free_port, raw_send)
    answer = client.get(sandbox["links"]["exchanges"] + "advice/" + query)
    assert answer.status_code == 400 and words in answer.json()["error"]


def test_other_sessions_and_missing_exchanges_get_404(client, other_client, free_port,
                                                      raw_send):
    sandbox = _sandbox_with_traffic(client, free_port, raw_send)
    url = sandbox["links"]["exchanges"]
    assert other_client.get(url + "1/advice/").status_code == 404
    assert other_client.get(url + "advice/?seqs=1").status_code == 404
    missing = client.get(url + "99/advice/")
    assert missing.status_code == 404 and "evicted" in missing.json()["error"]
