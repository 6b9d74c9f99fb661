"""Without isolation, programs are offered only to a single local user (issue 13 point
5; security review): besides no logins and no production settings, each create and
start must come from the machine itself (``budgets.is_local``, the rule of
``budgets.client_address``, proxies included). A playground started on 0.0.0.0 without
bubblewrap would otherwise run anyone's code.

transaction=True: writing files takes the owner's quota lock (a transaction), as in
test_program_api.py.
"""

import pytest

from playground.models import Sandbox

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/api/sandboxes/"
LOOP = 'import os\nprint("listening on", os.environ["PORT"])\n'
REMOTE = {"REMOTE_ADDR": "192.0.2.7"}
REFUSED = ("programs cannot run for you on this playground: bubblewrap (bwrap) is not "
           "installed, and without isolation they are offered only to a user on the "
           "playground's own computer (you reach it over the network)")


def create_program(client, port, **headers):
    return client.post(LIST, {"name": "mine", "port": port, "kind": "program",
                              "source": LOOP}, content_type="application/json", **headers)


@pytest.fixture
def no_bwrap(settings, tmp_path):
    """A playground whose bubblewrap is missing: programs would run unisolated."""
    settings.PLAYGROUND_BWRAP = str(tmp_path / "no-such-bwrap")
    return settings


def test_a_client_on_the_network_is_refused(client, free_port, no_bwrap,
                                            compiled_translations):
    response = create_program(client, free_port, **REMOTE)
    assert response.status_code == 403, response.content
    assert response.json()["error"] == REFUSED
    assert response.json()["isolation"] == "no bwrap"
    japanese = create_program(client, free_port, HTTP_ACCEPT_LANGUAGE="ja", **REMOTE)
    assert japanese.status_code == 403
    assert japanese.json()["error"] == (
        "このプレイグラウンドでは、あなたのプログラムは起動できません。bubblewrap (bwrap) "
        "がインストールされていません。隔離なしのプログラムは、プレイグラウンドが動いている"
        "コンピューターの利用者にだけ提供されます（あなたはネットワーク越しにアクセスしています）")
    assert Sandbox.objects.count() == 0
    # The create form says so, to that client; the local user is still offered them.
    assert client.get(LIST, **REMOTE).json()["programs"] == {
        "offered": False, "isolated": False, "why": REFUSED}
    assert client.get(LIST).json()["programs"]["offered"] is True
    # henaserver sandboxes are not concerned.
    henaserver = client.post(LIST, {"name": "site", "port": free_port},
                             content_type="application/json", **REMOTE)
    assert henaserver.status_code == 201, henaserver.content


def test_a_program_made_locally_is_not_started_from_the_network(client, free_port,
                                                                no_bwrap):
    sb = create_program(client, free_port).json()
    response = client.post(sb["links"]["start"], content_type="application/json", **REMOTE)
    assert response.status_code == 403, response.content
    assert response.json()["error"] == REFUSED
    assert Sandbox.objects.get(pk=sb["id"]).status == "stopped"


@pytest.mark.parametrize("meta, header, local", [
    ({"REMOTE_ADDR": "::1"}, "", True),
    ({"REMOTE_ADDR": "127.0.0.5"}, "", True),
    ({"REMOTE_ADDR": "::ffff:127.0.0.1"}, "", True),
    # ::1 is counted in the budget as ::/64; ::2 is in that /64 and is not this machine.
    ({"REMOTE_ADDR": "::2"}, "", False),
    ({"REMOTE_ADDR": "2001:db8::1"}, "", False),
    # A local proxy (trusted, one hop) passes on a client on the network.
    ({"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.5"},
     "X-Forwarded-For", False),
    ({"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "127.0.0.1"},
     "X-Forwarded-For", True),
    # A client on the network that writes the header itself is not believed.
    ({"REMOTE_ADDR": "203.0.113.5", "HTTP_X_FORWARDED_FOR": "127.0.0.1"},
     "X-Forwarded-For", False),
    # Behind a Unix socket with no header written: cannot be told, so not local.
    ({"REMOTE_ADDR": ""}, "X-Forwarded-For", False),
    # Behind a Unix socket, a local proxy wrote a local client.
    ({"REMOTE_ADDR": "", "HTTP_X_FORWARDED_FOR": "127.0.0.1"}, "X-Forwarded-For", True),
    # Count mode trusts the peer by position: a client on the network that reaches
    # daphne directly and forges the header is still not this machine (final review).
    ({"REMOTE_ADDR": "203.0.113.5", "HTTP_X_FORWARDED_FOR": "127.0.0.1"},
     "X-Forwarded-For+count", False),
])
def test_local_is_the_client_address_rule(client, free_port, no_bwrap, meta, header,
                                          local):
    count = header.endswith("+count") or meta["REMOTE_ADDR"] in ("127.0.0.1", "")
    no_bwrap.PLAYGROUND_CLIENT_ADDRESS_HEADER = header.removesuffix("+count")
    no_bwrap.PLAYGROUND_TRUSTED_PROXY_COUNT = 1 if count else 0
    response = create_program(client, free_port, **meta)
    assert response.status_code == (201 if local else 403), response.content


def test_isolated_programs_are_offered_to_the_network(client, free_port, settings):
    """With bubblewrap (as root) nothing changes: the sandbox is the isolation."""
    from testkit.programs import need_isolation

    need_isolation(settings.PLAYGROUND_BWRAP)
    response = create_program(client, free_port, **REMOTE)
    assert response.status_code == 201, response.content
    assert client.get(LIST, **REMOTE).json()["programs"]["offered"] is True
