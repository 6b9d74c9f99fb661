"""canonical.py's rule, case by case (the real redirect between two host names, with
cookies and a sandbox, is tests/playground/test_literal_path.py)."""

import json

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from playground.canonical import CanonicalHostMiddleware

middleware = CanonicalHostMiddleware(lambda request: HttpResponse("served"))


def answer(method: str, host: str, local: str = "127.0.0.1", **extra):
    request = getattr(RequestFactory(), method.lower())(
        "/sandboxes/3/?tab=files", HTTP_HOST=host, SERVER_NAME=local, **extra)
    return middleware(request)


@pytest.mark.parametrize("host", ["localhost:8000", "[::1]:8000", "LOCALHOST:8000"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_other_loopback_names_are_redirected_with_path_and_query(host, method):
    response = answer(method, host)
    assert response.status_code == 302
    assert response["Location"] == "http://127.0.0.1:8000/sandboxes/3/?tab=files"


def test_a_request_with_a_body_is_refused_with_the_address_to_use():
    response = answer("POST", "localhost:8000", HTTP_ACCEPT_LANGUAGE="ja")
    assert response.status_code == 421
    body = json.loads(response.content)
    assert body["address"] == "http://127.0.0.1:8000/"
    assert "http://127.0.0.1:8000/" in body["error"] and "サンドボックス" in body["error"]


@pytest.mark.parametrize("host, local", [
    ("127.0.0.1:8000", "127.0.0.1"),  # already canonical
    ("teacher.example:8000", "127.0.0.1"),  # a classroom host's own name
    ("localhost:8000", "::1"),  # reached over IPv6: 127.0.0.1 may not be served
    ("localhost:8000", "192.168.1.5"),  # a LAN address, not this loopback socket
    ("localhost", "testserver"),  # Django's test client
])
def test_everything_else_is_served_as_it_came(host, local, settings):
    settings.ALLOWED_HOSTS = ["*"]
    assert answer("GET", host, local).content == b"served"


def test_the_redirect_can_be_turned_off(settings):
    settings.PLAYGROUND_CANONICAL_HOST = ""
    assert answer("GET", "localhost:8000").content == b"served"
