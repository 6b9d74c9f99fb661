"""The connection's decisions as data: its state table, the keep/close rule, the modes.

These are pure: no socket, no process. What they decide is checked on the wire by the
other test files (test_framing.py, test_errors.py, test_modes.py).
"""

from __future__ import annotations

import re

import pytest

from henaserver.connection import READING, TRANSITIONS, State
from henaserver.modes import FULL, MODES, POLICIES, ModePolicy, policy_for
from henaserver.persistence import close_reason

ROW = re.compile(r"^\s{4}([A-Z_]+)\s{2,}(.+?)\s{2,}([A-Z_]+)$", re.M)


def documented_transitions() -> set[tuple[State, State]]:
    """The (from, to) pairs of the table in State's docstring."""
    assert State.__doc__ is not None
    rows = ROW.findall(State.__doc__)
    assert rows, "no transition table in the State docstring"
    return {(State[start], State[end]) for start, _when, end in rows if start != "from"}


def test_the_docstring_table_is_the_transition_table() -> None:
    coded = {(start, end) for start, ends in TRANSITIONS.items() for end in ends}
    assert documented_transitions() == coded


def test_every_state_but_closed_can_close_and_nothing_leaves_closed() -> None:
    assert set(TRANSITIONS) == set(State)
    assert all(State.CLOSED in ends for state, ends in TRANSITIONS.items()
               if state is not State.CLOSED)
    assert TRANSITIONS[State.CLOSED] == frozenset()
    assert set(READING) == {State.OPEN, State.INPUT_ENDED}


# --- keep or close (RFC 9112 section 9) -----------------------------------------------

ONCE, RECORD_ONLY = policy_for("once"), policy_for("record-only")


@pytest.mark.parametrize("request_read,timed_out,client_keeps,response_closes,policy,reason", [
    # An HTTP/1.1 exchange read and answered normally: the connection persists.
    (True, False, True, False, FULL, None),
    # A 417 refusal is read to its end and answered with close=False: persists too.
    (True, False, True, False, policy_for("fixed"), None),
    # The client said "Connection: close", or is HTTP/1.0 without keep-alive.
    (True, False, False, False, FULL, "Connection: close"),
    (True, False, False, True, FULL, "Connection: close"),
    # The response can only end by closing, or follows an error the server won't read past.
    (True, False, True, True, FULL, "server closed"),
    # The tutorial's one-request server.
    (True, False, True, False, ONCE, "server closed"),
    # The request was never read to its end: where the next one starts is unknown.
    (False, False, True, False, FULL, "bad request"),
    (False, True, True, False, FULL, "timeout"),
    # Record-only answers nothing, whatever happened.
    (True, False, True, False, RECORD_ONLY, "record-only mode"),
    (False, True, False, True, RECORD_ONLY, "record-only mode"),
])
def test_close_reason(request_read: bool, timed_out: bool, client_keeps: bool,
                      response_closes: bool, policy: ModePolicy, reason: str | None) -> None:
    assert close_reason(request_read=request_read, timed_out=timed_out,
                        client_keeps=client_keeps, response_closes=response_closes,
                        policy=policy) == reason


# --- modes as a policy ----------------------------------------------------------------

def test_each_mode_is_one_policy() -> None:
    assert MODES == ("full", "no-content-type", "once", "fixed", "record-only")
    assert all(policy_for(name).name == name for name in MODES)
    assert FULL == ModePolicy("full")
    changed = {name: {field for field in vars(FULL) if field != "name"
                      and getattr(policy, field) != getattr(FULL, field)}
               for name, policy in POLICIES.items()}
    assert changed == {"full": set(), "no-content-type": {"content_type_by_extension"},
                       "once": {"serves_one_request"}, "fixed": {"fixed_response"},
                       "record-only": {"answers"}}
