"""One broadcast per class across processes (docs/classes.md "One request to
everyone"): two real daphne processes sharing a real PostgreSQL (and a redis-server),
the teacher's double click landing on both: the second is a 409 while the first is
under way, and the class is free again once it has ended.

Real processes throughout: two daphne, a real henaserver sandbox, the reference
henaserver. No timing is asserted: the first broadcast is held open by a slow plan and
the test reads its stream's first line (the claim is taken) before the second click.
"""

from __future__ import annotations

import base64
import json
import urllib.request

from testkit.class_browsers import make_class
from testkit.class_browsers import session as _login
from testkit.playgrounds import Browser, Daphne, one_port_env, two_daphnes

GET = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
# 20 pieces, 250 ms apart: the first broadcast lasts seconds, long enough for the
# second click to land while it is under way (the test awaits its start, not a time).
SLOW = {"request_b64": base64.b64encode(GET).decode(), "line_endings": "exact",
        "pieces": 20, "delay_ms": 250}


def _stream(browser: Browser, site: Daphne, path: str):
    request = urllib.request.Request(
        site.base + path, data=json.dumps(SLOW).encode(), method="POST",
        headers={"X-CSRFToken": browser.cookie("csrftoken"),
                 "Content-Type": "application/json", "Accept": "application/x-ndjson"})
    return browser.opener.open(request, timeout=120)


def test_a_double_click_over_two_processes_sends_once(tmp_path, free_ports, redis_url,
                                                       postgres_url):
    sandbox_port, port_a, port_b = free_ports(3)
    env = one_port_env(tmp_path, sandbox_port, REDIS_URL=redis_url,
                       DATABASE_URL=postgres_url)
    path = f"/api/classes/{make_class(env, ('aiko',))['class']}/broadcast/"
    with two_daphnes(env, tmp_path, port_a, port_b) as (a, b):
        aiko = _login(a, "aiko")
        links = aiko.new_sandbox(a, "pg", sandbox_port)["links"]
        status, started = aiko.call(a, "POST", links["start"])
        assert status == 200 and started["status"] == "running", started
        sato = _login(a, "sato")

        with _stream(sato, a, path) as first:
            assert json.loads(first.readline())["type"] == "start"  # A holds the class
            status, second = sato.call(b, "POST", path, SLOW)
            assert status == 409, second
            assert "already being sent" in second["error"]
            lines = [json.loads(line) for line in first.read().splitlines()]
        assert [line["type"] for line in lines] == ["answer", "done"], lines
        assert lines[-1]["answered"] == 1

        # Released at the end: the other process may send now.
        status, again = sato.call(b, "POST", path, {**SLOW, "pieces": 1, "delay_ms": 0},
                                  timeout=120)
        assert status == 200, again
        assert again["answered"] == 1
        status, listed = aiko.call(a, "GET", links["exchanges"])
        assert [e["sent_by"] for e in listed["exchanges"]] == ["teacher", "teacher"]
