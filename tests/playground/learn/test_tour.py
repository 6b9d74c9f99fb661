"""The guided tour (playground/tour.py): its page, and one-click setup of each step on
a real sandbox process."""

import re
import socket
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from testkit.waiting import wait_until

from playground.learn import tour
from playground.models import Sandbox
from playground.sandboxes import modes

pytestmark = pytest.mark.django_db(transaction=True)

# The tutorial's order (../shared/seeds): what Chrome sends, replay with a client,
# Apache's reply, one request then exit, the loop, Content-Type; then keep-alive.
TUTORIAL_ORDER = [
    ("see-what-chrome-sends", modes.RECORD_ONLY),
    ("replay-with-the-composer", modes.FULL),
    ("answer-like-apache", modes.FIXED),
    ("one-request-then-exit", modes.ONCE),
    ("loop", modes.NO_CONTENT_TYPE),
    ("content-type", modes.FULL),
    ("keep-alive", modes.FULL),
]


def _setup(client, slug):
    return client.post(f"/api/tour/steps/{slug}/setup/", {}, content_type="application/json")


def _get(url: str) -> bytes:
    """The sandbox's URL names the test client's host ("testserver"); ask 127.0.0.1."""
    parts = urllib.parse.urlsplit(url)
    local = parts._replace(netloc=f"127.0.0.1:{parts.port}").geturl()
    with urllib.request.urlopen(local, timeout=5) as response:
        return response.read()


def test_steps_follow_the_tutorial_and_every_text_is_filled():
    assert [(s.slug, s.mode) for s in tour.STEPS] == TUTORIAL_ORDER
    for step in tour.STEPS:
        assert str(step.title) and str(step.goal) and step.look_for
        assert all(str(item) for item in step.look_for)


def _reached_by_mode() -> dict[str, int]:
    """The "reached" column of docs/checks.md's table for henaserver's modes."""
    text = (Path(__file__).resolve().parents[3] / "docs" / "checks.md").read_text("utf-8")
    rows = re.findall(r"^\| henaserver ([\w-]+) \|.*\| (\d+) \|$", text, re.M)
    return {mode: int(reached) for mode, reached in rows}


def test_the_steps_offer_the_checks_that_show_their_lesson():
    """A step with checks offers stages 1..checks_through, and says the tour sandbox
    reaches checks_reach: the stage its mode reaches in docs/checks.md's table (which
    tests/playground/checking/test_table.py asserts on real runs), or, when the step
    checks fewer stages than its mode passes, all of them."""
    reached = _reached_by_mode()
    assert reached["full"] == 12
    offered = [s for s in tour.STEPS if s.checks_through]
    assert [s.slug for s in tour.STEPS if not s.checks_through] == ["replay-with-the-composer"]
    for step in offered:
        assert 1 <= step.checks_through <= 12 and step.checks_note, step.slug
        assert step.checks_reach == min(reached[step.mode], step.checks_through), step.slug
    # The tutorial's modes each show their first failing stage (the lesson), the last two
    # steps show every stage they check pass.
    assert [s.checks_through - s.checks_reach for s in offered] == [1, 1, 1, 1, 0, 0]


def test_the_page_offers_the_checks_on_those_steps(client):
    html = client.get("/tour/").content.decode()
    for step in tour.STEPS:
        block = html.split(f'id="step-{step.slug}"', 1)[1].split('id="step-', 1)[0]
        if step.checks_through:
            assert f"Check stages 1 to {step.checks_through}<" in block
            assert f'data-reach="{step.checks_reach}"' in block
        else:
            assert "tour-checks" not in block


def test_the_page_lists_every_step_with_its_setup_button(client):
    html = client.get("/tour/").content.decode()
    positions = [html.index(f'id="step-{slug}"') for slug, _ in TUTORIAL_ORDER]
    assert positions == sorted(positions)
    for slug, _ in TUTORIAL_ORDER:
        assert f'data-setup-url="/api/tour/steps/{slug}/setup/"' in html
    assert html.count(">Set up this step<") == len(TUTORIAL_ORDER)
    assert "js/tour.js" in html
    # Linked prominently: from the header of every page and from the home page's intro.
    home = client.get("/").content.decode()
    assert home.count('href="/tour/"') >= 2


def test_the_page_in_japanese(client, compiled_translations):
    client.cookies["django_language"] = "ja"
    html = client.get("/tour/").content.decode()
    assert "Chrome が送るものを見る" in html and "このステップを準備" in html
    assert "Set up this step" not in html


def test_setup_creates_one_tour_sandbox_and_reuses_it(client):
    first = _setup(client, "see-what-chrome-sends")
    assert first.status_code == 200, first.content
    data = first.json()
    assert data["sandbox"]["name"] == "tour" and data["sandbox"]["status"] == "running"
    assert data["sandbox"]["mode"] == modes.RECORD_ONLY
    assert data["links"]["open"] == data["sandbox"]["url"]
    assert data["links"]["traffic"] == data["sandbox"]["links"]["traffic"]

    second = _setup(client, "content-type").json()
    assert second["sandbox"]["id"] == data["sandbox"]["id"]
    assert Sandbox.objects.filter(name="tour").count() == 1
    assert second["links"]["open"].endswith("/index.html")
    # The starter site is there and served with its real types in the full mode.
    assert b"logo.png" in _get(second["links"]["open"])
    assert "tour" in client.get("/tour/").content.decode()


def test_the_apache_step_answers_it_works_to_any_path(client):
    data = _setup(client, "answer-like-apache").json()
    assert data["sandbox"]["mode"] == modes.FIXED
    assert b"<h1>It works!</h1>" in _get(data["sandbox"]["url"] + "anything")


def test_the_composer_step_links_to_the_filled_composer(client):
    data = _setup(client, "replay-with-the-composer").json()
    assert data["links"]["open"] is None
    traffic = data["sandbox"]["links"]["traffic"]
    assert data["links"]["compose"] == traffic + "?compose=browser#composer"


def test_the_once_step_serves_one_request_then_stops(client):
    data = _setup(client, "one-request-then-exit").json()
    assert data["sandbox"]["mode"] == modes.ONCE
    assert b"index.css" in _get(data["links"]["open"])
    wait_until(lambda: client.get(data["sandbox"]["links"]["self"]).json()["status"]
               == "stopped", 10, "the sandbox to stop after its one request", interval=0.1)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", data["sandbox"]["port"]), timeout=2).close()
    # Setting the step up again gives it its one request back.
    again = _setup(client, "one-request-then-exit").json()
    assert again["sandbox"]["status"] == "running"


def test_unknown_steps_and_wrong_methods(client):
    assert _setup(client, "no-such-step").status_code == 404
    assert client.get("/api/tour/steps/loop/setup/").status_code == 405


def test_step_1s_capture_is_still_there_at_step_7(client):
    """Every "Set up this step" restarts the tour sandbox: each is a new run, and the
    earlier runs' exchanges stay (the learner compares step 5's CSS with step 6's)."""
    from playground.traffic.ingest import ingestor

    first = _setup(client, "see-what-chrome-sends").json()
    port = first["sandbox"]["port"]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /chrome HTTP/1.1\r\nHost: localhost\r\nUser-Agent: Chrome\r\n\r\n")
        sock.settimeout(5)
        while sock.recv(65536):  # record-only: no answer, the server closes
            pass
    api = f"/api/sandboxes/{first['sandbox']['id']}/exchanges/"

    def recorded() -> list:
        ingestor().sync()
        return [i for i in client.get(api).json()["exchanges"] if i["target"] == "/chrome"]

    captured = wait_until(recorded, 10, "step 1's request to be recorded")
    for slug, _mode in TUTORIAL_ORDER[1:]:
        assert _setup(client, slug).status_code == 200
        if slug == "one-request-then-exit":
            _get(f"http://127.0.0.1:{port}/index.html")
    assert recorded() == captured and captured[0]["run"] == 1
    runs = client.get(f"/api/sandboxes/{first['sandbox']['id']}/runs/").json()
    assert [r["number"] for r in runs["runs"]] == list(range(1, 8))
    assert runs["current"] == 7 and runs["runs"][0]["mode"] == modes.RECORD_ONLY
