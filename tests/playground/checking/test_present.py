"""An Outcome as stored in CheckRun.results (checking/present.py), whatever a
learner's server sent: what PostgreSQL's jsonb can hold."""

import json

from playground.checking.present import outcome_data
from playground.checking.results import Failure, Outcome, Sent
from playground.refusals import Message


def test_nul_characters_become_a_visible_symbol_postgresql_can_store():
    """jsonb refuses "\\u0000": one NUL in a console line or a quoted status line would
    fail the run's update on PostgreSQL (SQLite takes it, so only CI would see it)."""
    failure = Failure(Message("the status line %(line)s is not valid", line="HTTP/1.1\x00"),
                      expected="HTTP/1.1 200 OK\x00", received=b"HTTP/1.1\x00 200",
                      sent=Sent(40000, 0), offset=8, console="crash\x00 here")
    outcome = Outcome(stage=2, check="status-line", label="2.1",
                      title=Message("A valid status line"), passed=False, failure=failure,
                      sent=(Sent(40000, 0),), seconds=0.1)
    data = outcome_data(outcome, {(40000, 0): 7})
    assert "\\u0000" not in json.dumps(data)
    stored = data["failure"]
    assert stored["console"] == "crash\N{SYMBOL FOR NULL} here"
    assert stored["expected"] == "HTTP/1.1 200 OK\N{SYMBOL FOR NULL}"
    assert stored["message"]["params"] == {"line": "HTTP/1.1\N{SYMBOL FOR NULL}"}
    # The bytes themselves are kept exactly (base64), the offset still points in them.
    assert (stored["received_b64"], stored["offset"], stored["exchange"]) == (
        "SFRUUC8xLjEAIDIwMA==", 8, 7)
