"""The HTML pages: they render, hand URLs to the JavaScript, and never show a traceback."""

import pytest
from django.test import RequestFactory

from playground import errors

pytestmark = pytest.mark.django_db(transaction=True)


def test_home_page_has_the_form_and_sets_the_csrf_cookie(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "csrftoken" in response.cookies
    html = response.content.decode()
    assert 'data-create-url="/api/sandboxes/"' in html
    assert 'id="create-port"' in html
    assert response.context["suggested_port"] is not None
    assert "No sandboxes yet" in html


def test_sandbox_page_for_its_owner_only(client, other_client, free_port):
    sb = client.post("/api/sandboxes/", {"name": "mine", "port": free_port},
                     content_type="application/json").json()
    page = client.get(sb["links"]["page"])
    assert page.status_code == 200
    assert f'data-files-url="{sb["links"]["files"]}"' in page.content.decode()

    other = other_client.get(sb["links"]["page"])
    assert other.status_code == 404
    assert "Page not found" in other.content.decode()
    assert "Traceback" not in other.content.decode()


def test_unknown_urls_get_friendly_404s(client):
    page = client.get("/no/such/page")
    assert page.status_code == 404
    assert "Back to your sandboxes" in page.content.decode()
    api = client.get("/api/nothing")
    assert api.status_code == 404
    assert api.json()["error"]


def test_server_error_page_is_friendly():
    response = errors.server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()


def test_static_files_are_served_with_debug_off(client, settings):
    settings.DEBUG = False
    response = client.get("/static/playground/css/playground.css")
    assert response.status_code == 200
    assert b"--primary" in b"".join(response.streaming_content)
