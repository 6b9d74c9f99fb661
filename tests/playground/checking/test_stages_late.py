"""Stages 7-12 (playground/checking/checks_late.py, checks_guard.py) against real
servers: henaserver in full mode passes them all; the starters, run with the learner's
Python, pass and fail as their code says; and small scripted servers (a real socket in
a thread, testkit.checked) make each mistake once, so every failure path is asserted
with its message, its byte and its hint."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from urllib.parse import unquote

import pytest
from testkit.checked import Servers, read_head

from playground.checking import checks_guard as guard
from playground.checking import checks_late as late
from playground.checking.client import RESET, SILENT
from playground.checking.results import Failure, Outcome, Target
from playground.checking.stages import stage

Answer = Callable[[bytes, int], bytes | None]


def failure(outcomes: dict[str, Outcome], label: str) -> Failure:
    outcome = outcomes[label]
    assert not outcome.passed and outcome.failure is not None, outcome
    return outcome.failure


def passed(outcomes: dict[str, Outcome]) -> set[str]:
    return {label for label, o in outcomes.items() if o.passed}


def http_server(servers: Servers, answer: Answer) -> Target:
    """A scripted server: each connection's request head goes to ``answer(head,
    number)``, whose bytes are sent back before the connection closes (None: closed
    without a word)."""
    def handler(conn: socket.socket, number: int) -> None:
        data = answer(read_head(conn), number)
        if data is not None:
            conn.sendall(data)
    return servers.scripted(handler)


def response(body: bytes = b"<p>hi</p>", status: str = "200 OK", *extra: str,
             length: int | None = None) -> bytes:
    """A well-formed response (Content-Length of ``body`` unless ``length``)."""
    fields = "".join(f"{line}\r\n" for line in extra)
    size = len(body) if length is None else length
    return (f"HTTP/1.1 {status}\r\nContent-Type: text/html\r\n{fields}"
            f"Content-Length: {size}\r\nConnection: close\r\n\r\n").encode() + body


def target_path(head: bytes) -> str:
    return head.split(b" ", 2)[1].decode("latin-1")


def docroot_file(target: Target, head: bytes) -> bytes | None:
    """What a naive file server sends for the request: the file the path names under
    the folder, joined without any check (so "../" climbs out), or None."""
    path = unquote(target_path(head).split("?")[0])
    if path.startswith("http://"):
        path = "/" + path.split("/", 3)[3]
    full = os.path.join(target.docroot, path[1:])
    return open(full, "rb").read() if os.path.isfile(full) else None


# --- the real servers ---------------------------------------------------------------

def test_henaserver_in_full_mode_passes_stages_7_to_12(servers, check):
    outcomes = check(servers.henaserver("full"), 7, 8, 9, 10, 11, 12)
    assert [o.label for o in outcomes.values() if not o.passed] == []
    assert len(outcomes) == sum(len(stage(n).checks) for n in range(7, 13))
    assert all(o.sent for o in outcomes.values())  # every check sent its requests


def test_the_loop_starter_fails_what_it_does_not_do(servers, check):
    outcomes = check(servers.starter("loop"), 7, 8, 10, 11, 12)
    # It answers everything with one page: HEAD gets the same head, and no path is a
    # file, so nothing outside the folder is ever sent.
    assert passed(outcomes) == {"7.1", "8.2", "11.1", "11.2", "11.3"}
    body = failure(outcomes, "7.2")
    assert body.message.template == late.HEAD_BODY and body.received.endswith(b"</p>\n")
    assert body.received[body.offset - 4:body.offset] == b"\r\n\r\n"
    says_close = failure(outcomes, "8.1")
    assert says_close.message.template == late.SAYS_CLOSE
    assert says_close.received[says_close.offset:].startswith(b"Connection: close\r\n")
    for label in ("10.1", "10.2", "10.3"):
        not_400 = failure(outcomes, label)
        assert not_400.message.template == guard.NOT_400 and not_400.offset == 9
        assert not_400.received[9:12] == b"200"
    for label in ("12.1", "12.2", "12.3", "12.4"):
        none = failure(outcomes, label)
        assert none.message.template == guard.NO_VALIDATOR
        assert none.received[none.offset - 2:none.offset + 2] == b"\r\n\r\n"  # the empty line


def test_single_threaded_starters_block_on_a_slow_client_and_threads_do_not(servers, check):
    assert passed(check(servers.starter("threads"), 9)) == {"9.1", "9.2"}
    outcomes = check(servers.starter("static"), 9, 10)
    for label, what in (("9.1", late.SILENT_CLIENT), ("9.2", late.HALF_SENT)):
        blocked = failure(outcomes, label)
        assert blocked.message.template == late.BLOCKED
        assert blocked.message.params["what"].template == what
    # static splits the request line in three: "GET/x HTTP/1.1" raises, and the
    # connection closes without an answer; the failure points at the request's byte.
    no_answer = failure(outcomes, "10.1")
    assert no_answer.message.template == guard.NO_400
    assert (no_answer.side, no_answer.offset) == ("request", 3)
    assert no_answer.received.startswith(b"GET/chk-")
    for label in ("10.2", "10.3"):  # the rest it does not look at: 200 OK
        assert failure(outcomes, label).message.template == guard.NOT_400


def test_behind_the_relay_one_at_a_time_still_fails_stage_9(servers, check):
    # As a program sandbox is reached: the relay opens its own connection to the server
    # per client, so it must neither hide nor fake a one-at-a-time server.
    assert passed(check(servers.relay(servers.starter("threads")), 9)) == {"9.1", "9.2"}
    outcomes = check(servers.relay(servers.starter("loop")), 9)
    assert passed(outcomes) == set()
    assert {failure(outcomes, label).message.template for label in ("9.1", "9.2")} == {
        late.BLOCKED}


# --- stage 7: HEAD ------------------------------------------------------------------

def _head_server(servers: Servers, head_answer: Callable[[bytes], bytes]) -> Target:
    holder: list[Target] = []

    def answer(head: bytes, number: int) -> bytes | None:
        body = docroot_file(holder[0], head) or b"no"
        if head.startswith(b"HEAD "):
            return head_answer(body)
        return response(body)
    holder.append(http_server(servers, answer))
    return holder[0]


@pytest.mark.parametrize(("head_answer", "template", "at"), [
    (lambda body: response(b"", "404 Not Found", length=len(body)), late.STATUS_DIFFERS,
     b"404"),
    (lambda body: response(b"", length=len(body)).replace(b"text/html", b"text/plain"),
     late.TYPE_DIFFERS, b"Content-Type: text/plain"),
    (lambda body: response(b"", length=len(body)).replace(b"Content-Length: ", b"X-L: "),
     late.NO_LENGTH, b"\r\n"),  # the empty line, where it would go
    (lambda body: response(b"", length=0), late.LENGTH_DIFFERS, b"0\r\n"),
    # No space after the colon is valid (OWS, RFC 9110 §5.6.3): still the value's byte.
    (lambda body: response(b"", length=0).replace(b"Length: ", b"Length:"),
     late.LENGTH_DIFFERS, b"0\r\n"),
], ids=["status", "type", "no-length", "wrong-length", "wrong-length-no-space"])
def test_head_differs_from_get(servers, head_answer, template, at, check):
    outcomes = check(_head_server(servers, head_answer), 7)
    wrong = failure(outcomes, "7.1")
    assert wrong.message.template == template
    assert wrong.received[wrong.offset:].startswith(at)
    assert wrong.sent is not None and outcomes["7.1"].sent[-1] == wrong.sent
    assert outcomes["7.2"].passed


def test_head_without_length_when_get_is_chunked(servers, check):
    # GET's length is known only from its chunks, so HEAD has none to repeat: a server
    # MAY leave Content-Length out of a HEAD response (RFC 9110 §8.6, §9.3.2).
    holder: list[Target] = []

    def answer(head: bytes, number: int) -> bytes:
        body = docroot_file(holder[0], head) or b"no"
        fields = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
        if head.startswith(b"HEAD "):
            return fields + b"Transfer-Encoding: chunked\r\n\r\n"
        return (fields + b"Transfer-Encoding: chunked\r\n\r\n"
                + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
    holder.append(http_server(servers, answer))
    assert passed(check(holder[0], 7)) == {"7.1", "7.2"}


def test_a_body_after_heads_head_is_pointed_at(servers, check):
    outcomes = check(_head_server(servers, lambda body: response(body)), 7)
    body = failure(outcomes, "7.2")
    assert body.message.params["extra"] > 0 and body.received[body.offset:].startswith(
        b"<!doctype html>")
    assert outcomes["7.1"].passed


# --- stage 8: keep-alive ------------------------------------------------------------

def _keep_alive_server(servers: Servers, second: Callable[[socket.socket, bytes], None],
                       first_extra: bytes = b"") -> Target:
    """A server that answers the first request on a connection with the file and keeps
    the connection open, then leaves the second to ``second(conn, first_body)``."""
    holder: list[Target] = []

    def handler(conn: socket.socket, number: int) -> None:
        head = read_head(conn)
        body = docroot_file(holder[0], head) or b"no"
        if b"Connection: close" in head:
            conn.sendall(response(body))
            return
        conn.sendall(response(body).replace(b"Connection: close\r\n", first_extra))
        second(conn, body)
    holder.append(servers.scripted(handler))
    return holder[0]


def test_closed_after_the_first_response(servers, check):
    outcomes = check(_keep_alive_server(servers, lambda conn, body: None), 8)
    closed = failure(outcomes, "8.1")
    assert closed.message.template == late.CLOSED_AFTER_FIRST
    assert closed.sent is not None and closed.sent.index == 1  # the second exchange
    assert outcomes["8.2"].passed


def test_no_answer_to_the_second_request(servers, check):
    stop = threading.Event()
    outcomes = check(_keep_alive_server(
        servers, lambda conn, body: stop.wait(10)), 8)
    stop.set()
    silent = failure(outcomes, "8.1")
    assert silent.message.template == late.NO_ANSWER_SECOND
    assert silent.sent is not None and silent.sent.index == 1


def test_the_second_answer_is_the_first_file_again(servers, check):
    def again(conn: socket.socket, body: bytes) -> None:
        read_head(conn)
        conn.sendall(response(body))
    outcomes = check(_keep_alive_server(servers, again), 8)
    wrong = failure(outcomes, "8.1")
    assert wrong.message.template == late.NOT_SECOND
    assert wrong.received[wrong.offset:].startswith(b"<!doctype html>")


def test_a_first_response_that_ends_by_closing(servers, check):
    def handler(conn: socket.socket, number: int) -> None:
        read_head(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>hi</p>")
    outcomes = check(servers.scripted(handler), 8)
    ends = failure(outcomes, "8.1")
    assert ends.message.template == late.ENDS_BY_CLOSE
    assert ends.received[ends.offset - 2:] == b"\r\n\r\n<p>hi</p>"  # Content-Length goes here


def test_connection_close_kept_open(servers, check):
    stop = threading.Event()

    def handler(conn: socket.socket, number: int) -> None:
        read_head(conn)
        conn.sendall(response().replace(b"Connection: close\r\n", b""))
        stop.wait(10)
    outcomes = check(servers.scripted(handler), 8)
    stop.set()
    kept = failure(outcomes, "8.2")
    assert kept.message.template == late.KEPT_OPEN and kept.hint == "never-closes"
    assert kept.offset == len(response().replace(b"Connection: close\r\n", b""))


# --- stage 9: one at a time ---------------------------------------------------------

def test_a_server_that_serves_one_connection_at_a_time(servers, check):
    one_at_a_time = threading.Lock()

    def handler(conn: socket.socket, number: int) -> None:
        with one_at_a_time:  # like a single-threaded loop: accept, read it all, answer
            read_head(conn)
            conn.sendall(response())
    outcomes = check(servers.scripted(handler), 9)
    for label in ("9.1", "9.2"):
        blocked = failure(outcomes, label)
        assert blocked.message.template == late.BLOCKED
        assert blocked.sent is not None and blocked.received == b""


def test_a_quick_client_closed_on_is_no_answer(servers, check):
    def handler(conn: socket.socket, number: int) -> None:
        read_head(conn)  # the slow one: waits; the quick one: closed without a word
    outcomes = check(servers.scripted(handler), 9)
    closed = failure(outcomes, "9.1")
    assert closed.message.template == late.NOT_ANSWERED
    assert closed.message.params["reason"].template != SILENT


# --- stage 10: 400 ------------------------------------------------------------------

def test_no_answer_to_a_malformed_request_points_at_the_request_byte(servers, check):
    def answer(head: bytes, number: int) -> bytes | None:
        bad = head.startswith(b"GET/") or b"Host:" not in head or b"Accept :" in head
        return None if bad else response()
    outcomes = check(http_server(servers, answer), 10)
    for label, offset_of in (("10.1", lambda data: 3),
                             ("10.2", lambda data: data.index(b"\r\n\r\n") + 2),
                             ("10.3", lambda data: data.index(b" :"))):
        closed = failure(outcomes, label)
        assert closed.message.template == guard.NO_400 and closed.side == "request"
        assert closed.offset == offset_of(closed.received)
        assert closed.sent == outcomes[label].sent[0]  # the malformed request's exchange


def test_a_reset_on_a_malformed_request_is_no_one_recv_hint(servers, check):
    def handler(conn: socket.socket, number: int) -> None:
        if conn.recv(4) == b"GET/":
            return  # closed with the rest unread: Linux sends RST
        conn.sendall(response(b"", "400 Bad Request") if b"Accept :" in read_head(conn)
                     else response())
    outcomes = check(servers.scripted(handler), 10)
    reset = failure(outcomes, "10.1")
    assert reset.message.template == guard.NO_400
    assert reset.message.params["reason"].template == RESET
    assert reset.hint == ""  # stage 1's "one recv()" says nothing about a malformed request
    assert (reset.side, reset.offset) == ("request", 3)


def test_a_400_and_then_nothing(servers, check):
    def answer(head: bytes, number: int) -> bytes | None:
        # Stop listening before the 400 is sent: the next connection is refused.
        servers.scripts[-1].close()
        return response(b"bad", "400 Bad Request")
    outcomes = check(http_server(servers, answer), 10)
    stopped = failure(outcomes, "10.1")
    assert stopped.message.template == guard.STOPPED_SERVING
    assert "refused" in str(stopped.message)


# --- stage 11: the folder's walls ---------------------------------------------------

def test_a_naive_file_server_leaks_the_secret_and_passwd(servers, check):
    holder: list[Target] = []

    def answer(head: bytes, number: int) -> bytes | None:
        found = docroot_file(holder[0], head)
        path = unquote(target_path(head))
        if found is None and path.startswith("//"):  # os.path.join keeps the absolute
            full = path[1:]
            found = open(full, "rb").read() if os.path.isfile(full) else None
        return response(found) if found is not None else response(b"", "404 Not Found")
    holder.append(http_server(servers, answer))
    outcomes = check(holder[0], 11)
    for label in ("11.1", "11.2", "11.3"):
        leak = failure(outcomes, label)
        assert leak.message.template == guard.LEAKED
        assert leak.received[leak.offset:].startswith(b"secret ")
    outside = os.path.dirname(holder[0].docroot)
    assert not [name for name in os.listdir(outside) if name.startswith("chk-secret-")]


def test_passwd_is_found_by_its_content(servers, check):
    def answer(head: bytes, number: int) -> bytes | None:
        if b"passwd" in head:
            return response(b"<pre>" + open(guard.PASSWD, "rb").read())
        return response(b"", "404 Not Found")
    outcomes = check(http_server(servers, answer), 11)
    leak = failure(outcomes, "11.1")
    assert leak.message.template == guard.LEAKED and leak.message.params["file"] == guard.PASSWD
    assert leak.received[leak.offset - 5:leak.offset] == b"<pre>"


def test_a_server_error_on_an_escape_fails(servers, check):
    outcomes = check(http_server(servers, lambda head, number: response(
        b"oops", "500 Internal Server Error") if b".." in head else response()), 11)
    error = failure(outcomes, "11.1")
    assert error.message.template == guard.FAILED_ON and error.offset == 9


# --- stage 12: 304 ------------------------------------------------------------------

ETAG = '"v1"'


def _etag_server(servers: Servers, conditional: Callable[[bytes], bytes],
                 any_tag: bool = False) -> Target:
    """ETag on every file; ``conditional`` answers an If-None-Match with that tag (with
    any tag when ``any_tag``)."""
    holder: list[Target] = []

    def answer(head: bytes, number: int) -> bytes | None:
        asked = b"If-None-Match: " + (b"" if any_tag else ETAG.encode())
        if asked in head:
            return conditional(head)
        return response(docroot_file(holder[0], head) or b"no", "200 OK", f"ETag: {ETAG}")
    holder.append(http_server(servers, answer))
    return holder[0]


def test_a_matching_etag_must_get_304(servers, check):
    outcomes = check(_etag_server(servers, lambda head: response(b"again")), 12)
    assert passed(outcomes) == {"12.1", "12.3", "12.4"}  # no Last-Modified: 12.3 asks nothing
    not_304 = failure(outcomes, "12.2")
    assert not_304.message.template == guard.NOT_304 and not_304.offset == 9
    assert not_304.message.params["value"] == ETAG


def test_a_304_with_a_body(servers, check):
    def conditional(head: bytes) -> bytes:
        return b"HTTP/1.1 304 Not Modified\r\nETag: " + ETAG.encode() + b"\r\n\r\nbody!"
    outcomes = check(_etag_server(servers, conditional), 12)
    body = failure(outcomes, "12.2")
    assert body.message.template == guard.BODY_304
    assert body.received[body.offset:] == b"body!"


def test_a_304_for_any_validator(servers, check):
    def conditional(head: bytes) -> bytes:
        return b"HTTP/1.1 304 Not Modified\r\nETag: " + ETAG.encode() + b"\r\n\r\n"
    outcomes = check(_etag_server(servers, conditional, any_tag=True), 12)
    assert outcomes["12.2"].passed
    any_match = failure(outcomes, "12.4")
    assert any_match.message.template == guard.NOT_200 and any_match.offset == 9


LAST_MODIFIED = "Mon, 30 Nov 2026 12:00:00 GMT"


@pytest.mark.parametrize("any_date", [False, True], ids=["compares", "any-date"])
def test_last_modified_only(servers, any_date, check):
    """No ETag: 12.2 asks nothing, 12.3 sends the date back, 12.4 an older date."""
    holder: list[Target] = []

    def answer(head: bytes, number: int) -> bytes | None:
        since = b"If-Modified-Since: " + (b"" if any_date else LAST_MODIFIED.encode())
        if since in head:
            return b"HTTP/1.1 304 Not Modified\r\n\r\n"
        return response(docroot_file(holder[0], head) or b"no", "200 OK",
                        f"Last-Modified: {LAST_MODIFIED}")
    holder.append(http_server(servers, answer))
    outcomes = check(holder[0], 12)
    if not any_date:
        assert passed(outcomes) == {"12.1", "12.2", "12.3", "12.4"}
        return
    older = failure(outcomes, "12.4")
    assert older.message.template == guard.NOT_200
    assert older.message.params == {"field": "If-Modified-Since",
                                    "value": "Sun, 29 Nov 2026 12:00:00 GMT",
                                    "got": "HTTP/1.1 304 Not Modified"}


def test_a_wrong_file_for_a_stale_validator_points_at_the_first_differing_byte(
        servers, check):
    def conditional(head: bytes) -> bytes:
        file = docroot_file(holder[0], head) or b""
        return response(file[:20] + b"#stale copy#", "200 OK", f"ETag: {ETAG}")
    holder = [_etag_server(servers, conditional, any_tag=True)]
    wrong = failure(check(holder[0], 12), "12.4")
    assert wrong.message.template == guard.WRONG_FILE
    assert wrong.received[wrong.offset:].startswith(b"#stale copy#")
