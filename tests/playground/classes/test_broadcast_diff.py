"""classes/diff.py: an answer against the reference, byte for byte (pure function)."""

from playground.classes.diff import MAX_DIFF_BYTES, diff

REFERENCE = (b"HTTP/1.1 200 OK\r\nDate: Mon, 30 Nov 2026 20:01:22 GMT\r\n"
             b"Server: henaserver/0.1\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
             b"\r\nHello")


def test_the_same_bytes_are_the_same():
    assert diff(REFERENCE, REFERENCE) == {"same": True, "same_apart_from_expected": True,
                                          "ranges": [], "truncated": False}


def test_another_second_and_another_server_name_are_expected():
    mine = REFERENCE.replace(b"22 GMT", b"23 GMT").replace(b"henaserver/0.1", b"mine")
    result = diff(mine, REFERENCE)
    assert not result["same"] and result["same_apart_from_expected"]
    assert {r["field"] for r in result["ranges"]} == {"date", "server"}


def test_a_missing_header_is_marked_where_it_would_be():
    mine = REFERENCE.replace(b"Content-Type: text/plain\r\n", b"")
    [missing] = diff(mine, REFERENCE)["ranges"]
    start, end = missing["reference"]
    assert missing["op"] == "missing" and not missing["expected"]
    assert REFERENCE[start:end] == b"Content-Type: text/plain\r\n"
    assert missing["response"][0] == missing["response"][1] == start


def test_extra_and_different_bytes():
    mine = REFERENCE.replace(b"Hello", b"Hello!").replace(b"200 OK", b"201 OK")
    ranges = diff(mine, REFERENCE)["ranges"]
    ops = [(r["op"], mine[r["response"][0]:r["response"][1]]) for r in ranges]
    assert ops == [("differs", b"1"), ("extra", b"!")]


def test_a_body_line_that_looks_like_a_date_is_not_excused():
    mine = REFERENCE.replace(b"\r\n\r\nHello", b"\r\n\r\nDate:")
    result = diff(mine, REFERENCE)
    assert not result["same_apart_from_expected"]


def test_an_empty_answer_misses_everything():
    [missing] = diff(b"", REFERENCE)["ranges"]
    assert (missing["op"], missing["reference"]) == ("missing", [0, len(REFERENCE)])


def test_long_answers_are_compared_up_to_the_bound():
    long = REFERENCE + b"x" * (2 * MAX_DIFF_BYTES)
    assert diff(long, long)["truncated"]


def test_a_changed_value_is_one_range_not_scattered_letters():
    mine = REFERENCE.replace(b"text/plain", b"text/html")
    [changed] = diff(mine, REFERENCE)["ranges"]
    assert changed["op"] == "differs"
    assert mine[slice(*changed["response"])] == b"html"
    assert REFERENCE[slice(*changed["reference"])] == b"plain"
