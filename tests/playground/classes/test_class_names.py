"""A class's name with a control character (a NUL, a line break, a tab) is refused
with a clear 400, by the API and by the page's form, and no class is made: the name is
shown on a projector and in page titles, and PostgreSQL refuses a NUL outright (which
was a 500 there).

The old code created the class (201) on SQLite.
"""

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from playground.class_models import Classroom

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["a\x00b", "HTTP\n1", "HTTP\t1", "HTTP\x1b[31m"])
def test_a_name_with_a_control_character_is_refused(name):
    User.objects.create_user("sato")
    call_command("make_teacher", "sato", stdout=io.StringIO())
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    browser.force_login(User.objects.get(username="sato"))
    answer = browser.post("/api/classes/", {"name": name}, content_type="application/json")
    assert answer.status_code == 400, answer.content
    assert answer.json() == {"error": "a class name cannot hold control characters (a "
                                      "tab, a line break, a NUL)", "field": "name"}
    page = browser.post("/classes/", {"name": name})
    assert page.status_code == 400 and "control characters" in page.content.decode()
    assert not Classroom.objects.exists()
