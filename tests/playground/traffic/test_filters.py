"""The server's traffic filter (traffic/filters.py) against the one table of cases that
the page's filters.js follows too (tests/data/filters.json; the browser side is checked
in tests/e2e/test_runs_e2e.py through testkit/filter_table.py), so an export of "the
filtered list" holds exactly the rows the page shows."""

import threading

import pytest
from testkit.filter_table import TABLE, raw_of

from playground.traffic import filters


def test_every_case_of_the_shared_table():
    for case in TABLE["cases"]:
        if case.get("error"):
            with pytest.raises(filters.FilterError):
                filters.parse(case["text"])
            continue
        wanted = filters.parse(case["text"])
        got = {name: filters.matches(item, wanted, lambda item=item: raw_of(item))
               for name, item in TABLE["items"].items()}
        assert got == case["passes"], case["text"]


def test_the_table_covers_runs():
    """run:N is in the table, with lists, combinations and malformed values (the cases
    that fail on a grammar without it)."""
    texts = [case["text"] for case in TABLE["cases"]]
    assert {"run:3", "run:1,3", "run:3 method:GET", "run:x", "run:"} <= set(texts)


def test_the_table_covers_negation_regexes_headers_and_bodies():
    """Issue 16, point 8: each new kind of token, negated too, and the refused ones."""
    texts = {case["text"] for case in TABLE["cases"]}
    assert {"-status:200", "re:CSS$", "-re:^/index", "h:content-type=text/css",
            "-h:content-type", "body:missing", "-body:missing status:4xx", "re:("} <= texts


def test_nothing_to_filter_is_none():
    assert filters.parse("   ") is None
    assert filters.parse("run:2") is not None


def test_a_bad_pattern_says_why():
    with pytest.raises(filters.FilterError, match=r"re:\(: not a regular expression"):
        filters.parse("status:200 re:(")
    with pytest.raises(filters.FilterError, match="at most 200"):
        filters.parse("re:" + "a" * 201)


def test_a_pattern_that_backtracks_without_end_is_refused_within_its_budget():
    """(a|aa)+$ on forty a's then "!" has about 2**40 ways to try (the standard library's
    re would hold the thread for hours): the searches of one parsed filter share
    PATTERN_SECONDS, then a FilterError says why. The thread's join is only a guard
    against the old hang, 100 times the budget."""
    wanted = filters.parse("re:(a|aa)+$")
    said: list[str] = []

    def search() -> None:
        try:
            filters.matches({"target": "/" + "a" * 40 + "!"}, wanted)
        except filters.FilterError as err:
            said.append(str(err))

    thread = threading.Thread(target=search, daemon=True)
    thread.start()
    thread.join(100 * filters.PATTERN_SECONDS)
    assert said and "takes too long" in said[0] and "re:(a|aa)+$" in said[0]
    # An ordinary pattern over a full history stays far inside its budget.
    ordinary = filters.parse("re:^/index\\.html\\?n=1[0-9]*$")
    assert sum(filters.matches({"target": f"/index.html?n={n}"}, ordinary)
               for n in range(2000)) == 1 + 10 + 100 + 1000


def test_byte_tokens_need_the_bytes():
    f = filters.parse("h:content-type")
    assert f is not None and f.needs_bytes
    assert not filters.parse("status:200 re:x").needs_bytes  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="needs the exchange's bytes"):
        filters.matches(TABLE["items"]["css404"], f)


def test_headers_of_the_final_response_after_an_interim_one():
    """A 100 Continue head comes first in the recorded response: h: reads the final head."""
    response = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                b"Content-Length: 2\r\n\r\nok")
    assert filters.header_matches(response, "content-type", "text/plain", response=True)
    assert not filters.header_matches(response, "content-type", None, response=False)
