"""Facts as data: the supervisor learns how a child failed or ended from its event
stream (docs/events.md) and its exit status, never from the words it printed.

Besides the real henaserver (test_supervisor.py), these start a small stand-in server
program that speaks the same event protocol but prints in another language, so only
the events can tell the supervisor what happened."""

import sys
import textwrap

import pytest

from playground.refusals import Message
from playground.sandboxes import exits, modes
from playground.sandboxes.exits import ExitInfo, StartError
from playground.sandboxes.supervisor import Supervisor

# Run as `PROGRAM -u -m henaserver --root R --host H --port P --events-fd N ...`.
STAND_IN = textwrap.dedent("""\
    #!{python}
    import json, os, sys
    args = sys.argv[1:]
    fd = int(args[args.index("--events-fd") + 1])
    port = int(args[args.index("--port") + 1])
    event = {{"v": 1, "type": "server.start_failed", "time": 0.0, "reason": {reason!r},
             "host": "127.0.0.1", "port": port, "errno": None, "message": "x"}}
    os.write(fd, (json.dumps(event) + "\\n").encode())
    print({stderr!r}, file=sys.stderr)
    sys.exit(2)
    """)


def _stand_in(tmp_path, reason: str, stderr: str) -> str:
    path = tmp_path / f"stand-in-{reason}"
    path.write_text(STAND_IN.format(python=sys.executable, reason=reason, stderr=stderr))
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize("reason, stderr, expected", [
    # The port is taken, said in German: the event says so, the words do not.
    ("address_in_use", "Adresse wird bereits verwendet", "port_in_use"),
    # Words that look like "in use", but the event says something else.
    ("permission_denied", "permission denied: port in use by policy", "exited"),
])
def test_a_failed_start_is_told_by_the_event_not_the_words(tmp_path, reason, stderr,
                                                           expected):
    sup = Supervisor(python=_stand_in(tmp_path, reason, stderr), extra_args=())
    with pytest.raises(StartError) as caught:
        sup.start("a", root=str(tmp_path), host="127.0.0.1", port=8123)
    assert caught.value.reason == expected
    assert caught.value.returncode == 2
    assert caught.value.stderr_tail == (stderr,)  # kept for people, never searched
    if expected == "port_in_use":
        assert caught.value.message == Message(exits.PORT_IN_USE, port=8123)
        assert caught.value.status == 409
    else:  # worded by the reason, in the viewer's language, not in the server's words
        assert caught.value.message == Message(
            exits.START_FAILED, port=8123,
            why=Message(exits.WHY_NOT_LISTENING["permission_denied"]))
        assert caught.value.status == 503


def test_the_once_mode_is_known_by_its_stopping_reason():
    said = ExitInfo(pid=1, returncode=0, requested=False, stderr_tail=(), stdout_tail=(),
                    stop_reason=exits.ONE_REQUEST_SERVED)
    assert modes.exit_outcome(said) == Message(modes.ONCE_FINISHED)
    # The words alone, without the event (e.g. a learner's print), are no such fact.
    printed = ExitInfo(pid=1, returncode=0, requested=False, stderr_tail=(),
                       stdout_tail=("henaserver: stopped (one request served)",))
    assert modes.exit_outcome(printed) is None
    crashed = ExitInfo(pid=1, returncode=-9, requested=False, stderr_tail=(),
                       stdout_tail=(), stop_reason=exits.ONE_REQUEST_SERVED)
    assert modes.exit_outcome(crashed) is None


def test_the_exit_code_is_stated_once():
    assert exits.states_exit_code(Message("crash (%(exit)s)",
                                          exit=exits.describe_returncode(-9)))
    assert not exits.states_exit_code(Message(exits.PORT_IN_USE, port=1))
