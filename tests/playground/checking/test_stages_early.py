"""Stages 1-6 (checks_early.py), check by check: real henaserver and starters where they
make the mistake, scripted servers (real sockets) for the classic mistakes none of
ours makes; each failure with the byte it points at and its hint."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import unquote

from testkit.checked import read_head

from playground.checking.checks_early import FIRST_REQUEST_SIZE, PIECE_ENDS

OK_HEAD = "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"


def served(target, head: bytes) -> bytes:
    """The file of ``target``'s folder that a request head names (b"" if none)."""
    path = unquote(head.split(b" ")[1].decode()).lstrip("/")
    file = Path(target.docroot) / path
    return file.read_bytes() if path and file.is_file() else b""


def file_server(servers, answer):
    """A scripted server that reads each head and sends ``answer(body, head)``."""
    holder = {}

    def handler(conn, number):
        head = read_head(conn)
        conn.sendall(answer(served(holder["target"], head), head))
    holder["target"] = target = servers.scripted(handler)
    return target


def failures(outcomes):
    return {label: o for label, o in outcomes.items() if not o.passed}


# --- stage 1 -------------------------------------------------------------------------

def test_henaserver_full_passes_stages_1_to_6(servers, check):
    outcomes = check(servers.henaserver("full"), 1, 2, 3, 4, 5, 6)
    assert failures(outcomes) == {} and len(outcomes) == 15


def test_record_only_passes_stage_1_and_fails_stage_2(servers, check):
    outcomes = check(servers.henaserver("record-only"), 1, 2)
    assert outcomes["1.1"].passed
    assert [o.passed for o in outcomes.values()] == [True, False, False, False]
    assert "without sending anything" in str(outcomes["2.1"].failure.message)


def test_one_recv_that_answers_at_once_is_caught_between_pieces(servers, check):
    def one_recv(conn, number):
        conn.recv(4096)
        conn.sendall(OK_HEAD.encode() + b"Content-Length: 2\r\n\r\nhi")
    outcomes = check(servers.scripted(one_recv), 1, 2, 3)
    failure = outcomes["1.1"].failure
    assert (failure.side, failure.offset, failure.hint) == ("request", PIECE_ENDS[0],
                                                            "one-recv")
    assert failure.sent == outcomes["1.1"].sent[0]
    # The answer it gave is still judged by stages 2 and 3.
    assert [outcomes[f"{s}"].passed for s in ("2.1", "2.2", "2.3", "3.1", "3.2")] == [
        True] * 5


def test_one_recv_behind_the_relay(servers, check):
    # A program sandbox's server sits behind the capture relay, which turns a reset
    # into a clean close: the answer that came before the request was whole shows it.
    def one_recv(conn, number):
        conn.recv(4096)
        conn.sendall(OK_HEAD.encode() + b"Content-Length: 2\r\n\r\nhi")
    outcomes = check(servers.relay(servers.scripted(one_recv)), 1)
    assert outcomes["1.1"].failure.hint == "one-recv"
    fixed = check(servers.relay(servers.starter("loop")), 1, 2, 3, 4)
    assert failures(fixed) == {}


def test_one_recv_after_the_whole_request_arrived_is_a_reset(servers, check):
    def late_one_recv(conn, number):
        # Wait until the whole request has arrived, then read only 4096 bytes of it:
        # closing with the rest unread makes Linux send RST.
        while b"\r\n\r\n" not in conn.recv(65536, socket.MSG_PEEK):
            if len(conn.recv(65536, socket.MSG_PEEK)) >= FIRST_REQUEST_SIZE * 2:
                break
        conn.recv(4096)
        conn.sendall(OK_HEAD.encode() + b"Content-Length: 2\r\n\r\nhi")
    outcomes = check(servers.scripted(late_one_recv), 1)
    failure = outcomes["1.1"].failure
    assert failure.hint == "one-recv" and "reset" in str(failure.message)


def test_a_server_that_reads_and_then_waits(servers, check):
    def waits(conn, number):
        read_head(conn)
        conn.recv(1)  # until the checker gives up
    failure = check(servers.scripted(waits), 1, timeout=1.0)["1.1"].failure
    assert "neither answered nor closed" in str(failure.message) and failure.hint == ""


def test_the_once_starter_reads_in_pieces_since_its_fix(servers, check):
    # Before the fix (one recv(4096)), this was the one-recv failure above.
    outcomes = check(servers.starter("once"), 1, 2, 3, 4)
    assert [label for label, o in outcomes.items() if not o.passed] == ["4.1"]
    assert outcomes["4.1"].failure.hint == "no-loop"
    assert "refused" in str(outcomes["4.1"].failure.message)


# --- stage 2 -------------------------------------------------------------------------

def test_a_bare_lf_is_pointed_at_in_the_loop_starter(servers, check):
    # The "Done when": the loop starter with its status line's \r\n made \n.
    target = servers.starter("loop", edit=lambda source: source.replace(
        '"HTTP/1.1 200 OK\\r\\n"', '"HTTP/1.1 200 OK\\n"'))
    outcomes = check(target, 1, 2)
    assert [o.passed for o in outcomes.values()] == [True, False, True, True]
    failure = outcomes["2.1"].failure
    assert (failure.offset, failure.hint, failure.side) == (15, "bare-lf", "response")
    assert failure.received.startswith(b"HTTP/1.1 200 OK\nContent-Type")
    assert failure.sent == outcomes["1.1"].sent[0]


def test_a_head_all_in_bare_lfs_fails_stage_2_alone(servers, check):
    # The "Done when" edit: every \r\n of the loop starter's head made \n. Stage 2
    # points at each bare LF; stages 3 and 4 read the head as a browser does (RFC 9112
    # §2.2) and judge their own point, so the learner is not told five times about one
    # mistake, nor "no loop" about a server that loops.
    target = servers.starter("loop", edit=lambda source: source.replace('\\r\\n"\n', '\\n"\n'))
    outcomes = check(target, 1, 2, 3, 4)
    assert sorted(failures(outcomes)) == ["2.1", "2.2", "2.3"]
    assert {o.failure.hint for o in failures(outcomes).values()} == {"bare-lf"}


def test_an_unreadable_second_answer_keeps_its_own_hint(servers, check):
    # A server that loops, but whose later answers break a rule no browser reads past
    # (here a lone CR), is not told "no loop".
    answers = iter([b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 200 OK\rX: y\r\n"])

    def answer(body, head):
        line = next(answers, b"HTTP/1.1 200 OK\rX: y\r\n")
        return (line + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    target = file_server(servers, answer)
    outcomes = check(target, 1, 4)
    failure = outcomes["4.1"].failure
    assert failure is not None and failure.hint != "no-loop"
    assert failure.received.startswith(b"HTTP/1.1 200 OK\r")


def test_a_bare_lf_in_a_header_line(servers, check):
    target = file_server(servers, lambda body, head: (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\nContent-Length: "
        + str(len(body)).encode() + b"\r\n\r\n" + body))
    outcomes = check(target, 1, 2)
    assert [o.passed for o in outcomes.values()] == [True, True, False, True]
    assert (outcomes["2.2"].failure.offset, outcomes["2.2"].failure.hint) == (40, "bare-lf")


def test_no_empty_line_after_the_head(servers, check):
    target = file_server(servers, lambda body, head: OK_HEAD.encode() + body)
    outcomes = check(target, 1, 2)
    assert [o.passed for o in outcomes.values()] == [True, True, False, False]
    header, end = outcomes["2.2"].failure, outcomes["2.3"].failure
    assert (header.offset, header.hint) == (len(OK_HEAD), "no-empty-line")
    assert end.hint == "no-empty-line"


# --- stage 3 -------------------------------------------------------------------------

def test_content_length_in_characters(servers, check):
    target = file_server(servers, lambda body, head: (
        OK_HEAD + f"Content-Length: {len(body.decode())}\r\n\r\n").encode() + body)
    outcomes = check(target, 1, 2, 3)
    assert [label for label, o in outcomes.items() if not o.passed] == ["3.2"]
    failure = outcomes["3.2"].failure
    assert failure.hint == "length-in-characters"
    assert "more bytes came after" in str(failure.message)
    # The offset is the first byte past Content-Length: where the body should have ended.
    head_end = failure.received.index(b"\r\n\r\n") + 4
    length = int(failure.received.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    assert failure.offset == head_end + length
    assert failure.expected == f"Content-Length: {len(failure.received) - head_end}"


def test_a_length_too_short_in_bytes_is_not_called_characters(servers, check):
    target = file_server(servers, lambda body, head: (
        OK_HEAD + f"Content-Length: {len(body) - 1}\r\n\r\n").encode() + body)
    failure = check(target, 1, 2, 3)["3.2"].failure
    assert failure.hint == "" and "1 more bytes" in str(failure.message)


def test_no_length_and_the_connection_left_open(servers, check):
    def never_closes(conn, number):
        read_head(conn)
        conn.sendall(OK_HEAD.encode() + b"\r\n<p>hi</p>")
        conn.recv(1)  # until the checker gives up
    outcomes = check(servers.scripted(never_closes), 1, 2, 3, timeout=1.0)
    assert [label for label, o in outcomes.items() if not o.passed] == ["3.1", "3.2"]
    assert outcomes["3.1"].failure.hint == "never-closes"


def test_no_length_but_closed(servers, check):
    target = file_server(servers, lambda body, head: OK_HEAD.encode() + b"\r\n" + body)
    outcomes = check(target, 1, 2, 3)
    assert [label for label, o in outcomes.items() if not o.passed] == ["3.1", "3.2"]
    failure = outcomes["3.1"].failure
    assert failure.hint == "" and failure.offset == len(OK_HEAD) + 2


# --- stage 4 -------------------------------------------------------------------------

def test_once_fails_stage_4_with_no_loop(servers, check):
    outcomes = check(servers.henaserver("once"), 1, 2, 3, 4)
    assert [label for label, o in outcomes.items() if not o.passed] == ["4.1"]
    assert outcomes["4.1"].failure.hint == "no-loop"


def test_a_server_that_stops_answering_fails_stage_4(servers, check):
    def first_only(conn, number):
        head = read_head(conn)
        if number == 0:
            conn.sendall(OK_HEAD.encode() + b"Content-Length: 2\r\n\r\nhi")
        del head
    outcomes = check(servers.scripted(first_only), 1, 4)
    assert outcomes["1.1"].passed and outcomes["4.1"].failure.hint == "no-loop"



def test_an_answer_that_breaks_a_rule_in_stage_4_is_no_no_loop(servers, check):
    # It loops (it answered): the short body is the mistake, not a missing loop.
    def short_later(conn, number):
        read_head(conn)
        length = 2 if number == 0 else 10
        conn.sendall(OK_HEAD.encode() + f"Content-Length: {length}\r\n\r\nhi".encode())
    failure = check(servers.scripted(short_later), 1, 4)["4.1"].failure
    assert "Content-Length says 10" in str(failure.message) and failure.hint == ""


# --- stage 5 -------------------------------------------------------------------------

def test_fixed_fails_stage_5_at_the_first_wrong_byte(servers, check):
    from playground.compose import presets
    from playground.sandboxes import modes

    fixed = modes.to_bytes(presets.IT_WORKS)
    outcomes = check(servers.henaserver("fixed", fixed=fixed), 5)
    assert [o.passed for o in outcomes.values()] == [False, False, False, False]
    html = outcomes["5.1"].failure
    body_start = fixed.index(b"\r\n\r\n") + 4
    assert html.offset == body_start + 1  # "<html>" against "<!doctype": byte 1 differs
    assert outcomes["5.4"].failure.offset == 9
    assert "404 Not Found" in str(outcomes["5.4"].failure.message)


def test_files_by_path_from_a_file_server(servers, check):
    target = file_server(servers, lambda body, head: (
        (OK_HEAD + f"Content-Length: {len(body)}\r\n\r\n").encode() + body if body else
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
    assert failures(check(target, 5)) == {}


# --- stage 6 -------------------------------------------------------------------------

def test_no_content_type_fails_stage_6_only_for_css_png_js(servers, check):
    outcomes = check(servers.henaserver("no-content-type"), 6)
    assert [o.passed for o in outcomes.values()] == [True, False, False, False]
    failure = outcomes["6.2"].failure
    value_at = failure.received.index(b"Content-Type: ") + len(b"Content-Type: ")
    assert failure.received[value_at:value_at + 9] == b"text/html"
    assert failure.expected == "Content-Type: text/css\\r\\n"


def test_a_missing_content_type(servers, check):
    target = file_server(servers, lambda body, head: (
        f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
    outcomes = check(target, 6)
    assert not any(o.passed for o in outcomes.values())
    assert "no Content-Type" in str(outcomes["6.1"].failure.message)


def test_the_static_starter_passes_stage_6_since_it_knows_js(servers, check):
    assert failures(check(servers.starter("static"), 1, 2, 3, 4, 5, 6)) == {}


def test_a_wrong_content_type_without_a_space_after_the_colon_points_at_its_value(
        servers, check):
    # "Content-Type:text/plain" is valid (OWS may be empty, RFC 9110 §5.6.3): the
    # offset is the value's first byte wherever it starts, not a fixed column.
    target = file_server(servers, lambda body, head: (
        f"HTTP/1.1 200 OK\r\nContent-Type:text/plain\r\nContent-Length: {len(body)}"
        "\r\n\r\n").encode() + body)
    failure = check(target, 6)["6.1"].failure
    assert failure.received[failure.offset:].startswith(b"text/plain\r\n")
