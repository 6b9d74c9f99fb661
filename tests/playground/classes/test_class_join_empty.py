"""Joining with no code at all (the join form sent empty, a JSON body without a code
or with a number) says what to type, in English and Japanese (404, as for any code
that names no class). It used to read " is not a join code: ..." (an empty name in
front), as if a code had been typed and not found.
"""

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db

WANTED = "type the join code your teacher gave you: 8 letters and digits, like ACEF-3467"


@pytest.mark.parametrize("body", [{}, {"code": ""}, {"code": "   "}, {"code": 5},
                                  {"code": None}])
def test_no_code_says_what_to_type(body):
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    browser.force_login(User.objects.create_user("ken"))
    answer = browser.post("/api/classes/join/", body, content_type="application/json")
    assert (answer.status_code, answer.json()) == (404, {"error": WANTED, "field": "code"})


def test_the_empty_form_in_japanese(compiled_translations):
    browser = Client(HTTP_ACCEPT_LANGUAGE="ja")
    browser.force_login(User.objects.create_user("ken"))
    page = browser.post("/classes/join/", {"code": ""})
    assert page.status_code == 404
    assert "先生から受け取った参加コード" in page.content.decode()
